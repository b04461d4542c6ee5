"""Writes to moto's S3 behind Vault's back, signed as a holder of the bucket's
credentials would sign them (moto refuses to serve objects written unsigned).

  get ENDPOINT REGION BUCKET KEY FILE
      Writes the latest version of KEY to FILE; exits 4 if there is none (no such
      key, or a delete marker).
  put ENDPOINT REGION BUCKET KEY FILE
      Writes FILE as a new latest version of KEY (Object Lock keeps the older ones).
  expire ENDPOINT REGION BUCKET KEY
      Moves the COMPLIANCE retention of every version of KEY into the past (moto
      allows it; AWS does not: the stand-in for a retention period ending).
"""
import datetime
import sys

import boto3
import botocore.exceptions


def client(endpoint, region):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def get(endpoint, region, bucket, key, path):
    s3 = client(endpoint, region)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        sys.exit(4)
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] in ("NoSuchKey", "404", "MethodNotAllowed"):
            sys.exit(4)
        raise
    with open(path, "wb") as out:
        out.write(body)


def put(endpoint, region, bucket, key, path):
    with open(path, "rb") as body:
        client(endpoint, region).put_object(Bucket=bucket, Key=key, Body=body.read(), ChecksumAlgorithm="SHA256")


def expire(endpoint, region, bucket, key):
    s3 = client(endpoint, region)
    past = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    for version in versions:
        if version["Key"] == key:
            s3.put_object_retention(
                Bucket=bucket,
                Key=key,
                VersionId=version["VersionId"],
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": past},
                BypassGovernanceRetention=True,
            )
    print(len(versions))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"get": get, "put": put, "expire": expire}[command](*args)
