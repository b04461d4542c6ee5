"""Encrypt or decrypt a file with the official Python AWS Encryption SDK (streaming),
the baseline for scripts/bench-cli.  usage: bench_esdk.py encrypt|decrypt KEYFILE IN OUT"""
import sys

import aws_encryption_sdk
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKey

mode, key_file, src, dst = sys.argv[1:5]
key = RawMasterKey(
    provider_id="vault",
    key_id=b"family",
    wrapping_key=WrappingKey(
        wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
        wrapping_key=bytes.fromhex(open(key_file).read().strip()),
        wrapping_key_type=EncryptionKeyType.SYMMETRIC,
    ),
)
client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
kwargs = {"algorithm": Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY, "frame_length": 65536} if mode == "encrypt" else {}
with open(src, "rb") as i, open(dst, "wb") as o, client.stream(mode=mode[0], source=i, key_provider=key, **kwargs) as s:
    for chunk in s:
        o.write(chunk)
