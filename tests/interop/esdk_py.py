"""Drive the official Python AWS Encryption SDK for Vault's interoperability tests.

usage: esdk_py.py encrypt|decrypt MANIFEST.json

Each manifest entry: {"input": path, "output": path, "frame_length": n,
"context": {...}, "keys": [{"namespace", "name", "key_hex"}, ...]}.
encrypt: writes a suite-0x0478 message under all keys (the first generates).
decrypt: decrypts with the keys given and checks the stored context equals "context".
Streams files so multi-MiB cases stay small in memory. Exits non-zero on any mismatch.
"""
import json
import sys

import aws_encryption_sdk
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider

SUITE = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY


def provider(specs):
    """A key provider that encrypts under every key in `specs` (the first generates).

    A lone RawMasterKey ignores providers added to it when encrypting, so each key
    gets a RawMasterKeyProvider of its namespace, and the first holds the others.
    """
    providers = []
    for spec in specs:
        wrapping_key = WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=bytes.fromhex(spec["key_hex"]),
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        )
        cls = type(
            "StaticRawProvider",
            (RawMasterKeyProvider,),
            {
                "provider_id": spec["namespace"],
                "_get_raw_key": lambda self, key_id, wk=wrapping_key: wk,
            },
        )
        p = cls()
        p.add_master_key(spec["name"].encode("utf-8"))
        providers.append(p)
    for other in providers[1:]:
        providers[0].add_master_key_provider(other)
    return providers[0]


def main():
    mode, manifest = sys.argv[1], sys.argv[2]
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    with open(manifest, encoding="utf-8") as f:
        cases = json.load(f)
    for case in cases:
        keys = provider(case["keys"])
        with open(case["input"], "rb") as src, open(case["output"], "wb") as dst:
            if mode == "encrypt":
                with client.stream(
                    mode="e",
                    source=src,
                    key_provider=keys,
                    encryption_context=case["context"],
                    frame_length=case["frame_length"],
                    algorithm=SUITE,
                ) as enc:
                    for chunk in enc:
                        dst.write(chunk)
            else:
                with client.stream(mode="d", source=src, key_provider=keys) as dec:
                    for chunk in dec:
                        dst.write(chunk)
                    header = dec.header
                if header.algorithm != SUITE:
                    sys.exit(f"{case['input']}: suite {header.algorithm}")
                if dict(header.encryption_context) != case["context"]:
                    sys.exit(f"{case['input']}: context {header.encryption_context!r} != {case['context']!r}")
    print(f"python esdk {aws_encryption_sdk.__version__}: {mode} {len(cases)} cases ok")


if __name__ == "__main__":
    main()
