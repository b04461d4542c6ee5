"""AWS-side checks for the KMS backend tests, with AWS's own libraries pointed at moto.

  esdk-decrypt ENDPOINT KEY_ARN IN OUT TENANT OBJECT
      Decrypts a Vault object with the official AWS Encryption SDK and a strict KMS
      master key provider for KEY_ARN (its region's KMS at ENDPOINT), streaming, and
      checks the message's encryption context names TENANT and OBJECT.
  kms-decrypt ENDPOINT KEY_ARN BLOB_B64 CONTEXT_JSON
      Calls KMS Decrypt directly (boto3); prints the data key (base64), or exits 3
      printing the error code when KMS refuses.
  key-state ENDPOINT KEY_ARN
      Prints the key's KeyState (DescribeKey), e.g. Enabled or PendingDeletion.
"""
import base64
import json
import os
import sys

import boto3
import botocore.exceptions


def region_of(arn):
    return arn.split(":")[3]


def esdk_decrypt(endpoint, arn, src, dst, tenant, obj):
    os.environ["AWS_ENDPOINT_URL_KMS"] = endpoint
    import aws_encryption_sdk
    from aws_encryption_sdk.identifiers import CommitmentPolicy

    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[arn])
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        with client.stream(mode="d", source=fin, key_provider=provider) as decryptor:
            for chunk in decryptor:
                fout.write(chunk)
            context = decryptor.header.encryption_context
    if context.get("vault:tenant") != tenant or context.get("vault:object") != obj:
        sys.exit(f"unexpected encryption context {context}")


def kms_decrypt(endpoint, arn, blob, context):
    kms = boto3.client("kms", region_name=region_of(arn), endpoint_url=endpoint)
    try:
        out = kms.decrypt(
            KeyId=arn, CiphertextBlob=base64.b64decode(blob), EncryptionContext=json.loads(context)
        )
    except botocore.exceptions.ClientError as e:
        print(e.response["Error"]["Code"])
        sys.exit(3)
    print(base64.b64encode(out["Plaintext"]).decode())


def key_state(endpoint, arn):
    kms = boto3.client("kms", region_name=region_of(arn), endpoint_url=endpoint)
    print(kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"])


if __name__ == "__main__":
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    command, args = sys.argv[1], sys.argv[2:]
    {"esdk-decrypt": esdk_decrypt, "kms-decrypt": kms_decrypt, "key-state": key_state}[command](*args)
