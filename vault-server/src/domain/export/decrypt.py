"""Decrypt a Vault export with the official AWS Encryption SDK for Python.

usage: python decrypt.py --key RECOVERY_KEY_HEX --out DIR EXPORT_DIR

EXPORT_DIR is the unpacked archive (metadata.json, objects/, recovery/). For each
recording: the SDK opens recovery/<id>.key with a raw AES keyring holding the recovery
key, which yields the recording's data key; then it decrypts objects/<id>.esdk with
that data key, checking the key commitment, the header and every frame, streaming
(memory stays small for any file size), into DIR/<id><extension>.
Requires: pip install aws-encryption-sdk
"""
import argparse
import json
import mimetypes
import os
import re
import sys

import aws_encryption_sdk
from aws_encryption_sdk.identifiers import CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider
from aws_encryption_sdk.materials_managers import DecryptionMaterials
from aws_encryption_sdk.materials_managers.base import CryptoMaterialsManager
from aws_encryption_sdk.structures import DataKey


def recovery_provider(namespace, name, key):
    """The raw AES keyring of the recovery key (as the SDK's raw master key provider)."""
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


class KnownDataKey(CryptoMaterialsManager):
    """Supplies a data key recovered from the kit; the SDK still verifies everything."""

    def __init__(self, data_key):
        self.data_key = data_key

    def get_encryption_materials(self, request):
        raise NotImplementedError("decrypt only")

    def decrypt_materials(self, request):
        edk = sorted(request.encrypted_data_keys, key=lambda e: e.key_provider.provider_id)[0]
        key = DataKey(key_provider=edk.key_provider, data_key=self.data_key, encrypted_data_key=edk.encrypted_data_key)
        return DecryptionMaterials(data_key=key, verification_key=None)


# Extensions for the types Vault stores (mimetypes does not know audio/wav everywhere).
EXTENSIONS = {
    "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/mpeg": ".mp3", "audio/ogg": ".ogg",
    "audio/mp4": ".m4a", "audio/aac": ".aac", "audio/flac": ".flac", "audio/webm": ".weba",
    "video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov", "video/ogg": ".ogv",
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/heic": ".heic",
    "text/plain": ".txt", "application/pdf": ".pdf",
}


def file_name(recording, taken):
    """The recording's title as a file name, with the extension of its type; a second
    recording of the same title gets " (2)" and so on."""
    stem = re.sub(r"[^\w .,()'-]", "_", str(recording.get("title") or "")).strip(" .")[:100] or "recording"
    content_type = recording["content_type"].split(";")[0].strip().lower()
    extension = EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ""
    name, n = stem + extension, 2
    while name.lower() in taken:
        name, n = f"{stem} ({n}){extension}", n + 1
    taken.add(name.lower())
    return name


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
    provider = recovery_provider(recovery["namespace"], recovery["name"], key)
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    os.makedirs(args.out, exist_ok=True)
    failed = 0
    taken = set()
    library_key = None
    if metadata.get("library_key"):
        # Titles, dates and notes were sealed in the browser under the library key.
        with open(os.path.join(args.export, metadata["library_key"]), "rb") as f:
            library_key, kit = client.decrypt(source=f.read(), key_provider=provider)
        if kit.encryption_context.get("vault:kit") != "library-key" or len(library_key) != 32:
            sys.exit("recovery/library.key is not this family's library key")
    for r in metadata["recordings"]:
        if library_key and r.get("details"):
            try:
                with open(os.path.join(args.export, r["details"]), "rb") as f:
                    plain, _ = client.decrypt(source=f.read(), materials_manager=KnownDataKey(library_key))
                details = json.loads(plain)
                if details.get("recording") == r["id"] and isinstance(details.get("title"), str):
                    r = {**r, "title": details.get("title") or r["title"], "recorded_on": details.get("recorded_on"),
                         "note": details.get("note")}
            except Exception as e:  # the recording itself still decrypts
                print(f"{r['id']}: its details do not open: {e}", file=sys.stderr)
        target = os.path.join(args.out, file_name(r, taken))
        try:
            with open(os.path.join(args.export, r["recovery_key"]), "rb") as f:
                data_key, kit = client.decrypt(source=f.read(), key_provider=provider)
            if kit.encryption_context.get("vault:object") != r["id"] or len(data_key) != 32:
                raise ValueError("the recovery kit entry belongs to another recording")
            with open(os.path.join(args.export, r["object"]), "rb") as source, open(target + ".part", "wb") as out:
                with client.stream(mode="d", source=source, materials_manager=KnownDataKey(data_key)) as decryptor:
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
