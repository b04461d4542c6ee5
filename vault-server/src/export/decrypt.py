"""Decrypt a Vault export with the official AWS Encryption SDK for Python.

usage: python decrypt.py --key RECOVERY_KEY_HEX --out DIR EXPORT_DIR

EXPORT_DIR is the unpacked archive (metadata.json, objects/, recovery/). For each
recording, the message is recovery/<id>.header followed by objects/<id>.esdk from
byte header_len on; it is decrypted with a raw AES keyring holding the recovery key,
streaming (memory stays small for any file size), into DIR/<id><extension>.
Requires: pip install aws-encryption-sdk
"""
import argparse
import io
import json
import mimetypes
import os
import sys

import aws_encryption_sdk
from aws_encryption_sdk.identifiers import CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider


class Message(io.RawIOBase):
    """The recovery header, then the stored object from `offset` on."""

    def __init__(self, header, path, offset):
        self.parts = [io.BytesIO(header)]
        body = open(path, "rb")
        body.seek(offset)
        self.parts.append(body)

    def readable(self):
        return True

    def readinto(self, buffer):
        while self.parts:
            n = self.parts[0].readinto(buffer)
            if n:
                return n
            self.parts.pop(0).close()
        return 0


def key_provider(namespace, name, key):
    wrapping_key = WrappingKey(
        wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
        wrapping_key=key,
        wrapping_key_type=EncryptionKeyType.SYMMETRIC,
    )
    cls = type(
        "RecoveryKeyProvider",
        (RawMasterKeyProvider,),
        {"provider_id": namespace, "_get_raw_key": lambda self, key_id: wrapping_key},
    )
    provider = cls()
    provider.add_master_key(name.encode("utf-8"))
    return provider


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="the recovery key: 64 hex characters")
    parser.add_argument("--out", required=True, help="directory for the decrypted recordings")
    parser.add_argument("export", help="the unpacked export directory")
    args = parser.parse_args()
    key = bytes.fromhex(args.key.strip())
    if len(key) != 32:
        sys.exit("the recovery key must be 64 hex characters")
    with open(os.path.join(args.export, "metadata.json"), encoding="utf-8") as f:
        metadata = json.load(f)
    recovery = metadata["recovery_key"]
    provider = key_provider(recovery["namespace"], recovery["name"], key)
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    os.makedirs(args.out, exist_ok=True)
    failed = 0
    for r in metadata["recordings"]:
        header = open(os.path.join(args.export, r["recovery_header"]), "rb").read()
        source = io.BufferedReader(Message(header, os.path.join(args.export, r["object"]), r["header_len"]))
        extension = mimetypes.guess_extension(r["content_type"]) or ""
        target = os.path.join(args.out, r["id"] + extension)
        try:
            with client.stream(mode="d", source=source, key_provider=provider) as decryptor, open(target + ".part", "wb") as out:
                for chunk in decryptor:
                    out.write(chunk)
            # The header is read with the first chunk; checked before the file is kept.
            if decryptor.header.encryption_context.get("vault:object") != r["id"]:
                raise ValueError("the message belongs to another recording")
            os.replace(target + ".part", target)
            print(f"{r['id']}: {r['title']!r} -> {target}")
        except Exception as e:  # report every recording, then fail
            failed += 1
            if os.path.exists(target + ".part"):
                os.remove(target + ".part")
            print(f"{r['id']}: cannot decrypt: {e}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
