#!/usr/bin/env python3
"""Smoke test of Trent with boto3 and the AWS Encryption SDK for Python.

Run by tests/smoke/run.sh, which starts the server and exports
AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, AWS_DEFAULT_REGION/AWS_REGION and
AWS_ENDPOINT_URL_KMS. The boto3 client gets endpoint_url explicitly; the
Encryption SDK builds its own clients, which find the endpoint through
AWS_ENDPOINT_URL_KMS (honoured by botocore >= 1.31).

Prints one "PASS py: ..." / "FAIL py: ..." line per check; exits 1 if any failed.
"""

import logging
import os
import re
import sys
import time
import traceback

import boto3
import botocore
import botocore.session
from botocore.exceptions import ClientError

ALIAS = "alias/smoke-py"
REGION = "us-east-1"
ARN_RE = re.compile(
    r"^arn:aws:kms:us-east-1:(\d{12}):key/"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)

passed = 0
failed = 0


def ok(name, detail=""):
    global passed
    passed += 1
    print(f"PASS py: {name}" + (f" ({detail})" if detail else ""), flush=True)


def bad(name, detail=""):
    global failed
    failed += 1
    print(f"FAIL py: {name}" + (f": {detail}" if detail else ""), flush=True)


def check(name, cond, detail=""):
    if cond:
        ok(name)
    else:
        bad(name, detail)
    return cond


def step(name, fn, *args, **kwargs):
    """Run fn; PASS if it returns, FAIL (with the error) if it raises. Returns the result or None."""
    try:
        result = fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - a smoke test reports everything
        bad(name, describe_error(e))
        return None
    ok(name)
    return result


def describe_error(e):
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{err.get('Code')} (HTTP {status}): {err.get('Message')}"
    return f"{type(e).__name__}: {e}"


def expect_error(name, code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response.get("Error", {}).get("Code")
        check(name, got == code, f"expected {code}, got {describe_error(e)}")
        return
    except Exception as e:  # noqa: BLE001
        bad(name, f"expected ClientError {code}, got {describe_error(e)}")
        return
    bad(name, f"expected {code}, but the call succeeded")


class Fatal(Exception):
    pass


def require(value, what):
    if value is None:
        raise Fatal(what)
    return value


def boto3_part(endpoint):
    kms = boto3.client("kms", endpoint_url=endpoint, region_name=REGION)
    ok("boto3 client", f"boto3 {boto3.__version__}, botocore {botocore.__version__}, endpoint {kms.meta.endpoint_url}")

    # -- create ------------------------------------------------------------
    created = require(
        step(
            "create_key with description and tags",
            kms.create_key,
            Description="trent smoke py",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Tags=[{"TagKey": "client", "TagValue": "py"}],
        ),
        "create_key failed",
    )
    md = created["KeyMetadata"]
    arn, key_id = md.get("Arn", ""), md.get("KeyId", "")
    print(f"py: created {arn}", flush=True)
    m = ARN_RE.match(arn)
    check("create_key Arn is arn:aws:kms:us-east-1:<account>:key/<uuid>", m is not None, repr(arn))
    check("create_key KeyId is the bare key id at the end of the Arn", m is not None and m.group(2) == key_id,
          f"KeyId={key_id!r} Arn={arn!r}")
    account = m.group(1) if m else None
    check("create_key KeyState Enabled", md.get("KeyState") == "Enabled", repr(md.get("KeyState")))

    # -- alias ----------------------------------------------------------------
    step(f"create_alias {ALIAS} (target given as ARN)", kms.create_alias, AliasName=ALIAS, TargetKeyId=arn)
    d = step("describe_key by alias", kms.describe_key, KeyId=ALIAS)
    if d:
        dmd = d["KeyMetadata"]
        check("describe_key Arn is the full key ARN", dmd.get("Arn") == arn, f"{dmd.get('Arn')!r} != {arn!r}")
        check("describe_key KeyId is the key id of that ARN", dmd.get("KeyId") == key_id,
              f"got {dmd.get('KeyId')!r}, AWS returns the bare key id {key_id!r} here (the ARN is in Arn)")
        check("describe_key Description", dmd.get("Description") == "trent smoke py", repr(dmd.get("Description")))
        check("describe_key AWSAccountId", account is not None and dmd.get("AWSAccountId") == account,
              repr(dmd.get("AWSAccountId")))

    # -- encrypt / decrypt -------------------------------------------------------
    ctx = {"purpose": "smoke", "client": "py"}
    plaintext = os.urandom(1000) + b"trent smoke py"
    enc = require(step("encrypt with encryption context", kms.encrypt, KeyId=ALIAS, Plaintext=plaintext,
                       EncryptionContext=ctx), "encrypt failed")
    ct1 = enc["CiphertextBlob"]
    check("encrypt KeyId is the full key ARN", enc.get("KeyId") == arn, repr(enc.get("KeyId")))
    check("encrypt EncryptionAlgorithm SYMMETRIC_DEFAULT", enc.get("EncryptionAlgorithm") == "SYMMETRIC_DEFAULT",
          repr(enc.get("EncryptionAlgorithm")))
    dec = step("decrypt without KeyId", kms.decrypt, CiphertextBlob=ct1, EncryptionContext=ctx)
    if dec:
        check("decrypt gives back the plaintext", dec["Plaintext"] == plaintext)
        check("decrypt KeyId is the full key ARN", dec.get("KeyId") == arn, repr(dec.get("KeyId")))
    dec = step("decrypt with KeyId=alias", kms.decrypt, CiphertextBlob=ct1, EncryptionContext=ctx, KeyId=ALIAS)
    if dec:
        check("decrypt with KeyId=alias gives back the plaintext", dec["Plaintext"] == plaintext)
    expect_error("decrypt with the wrong encryption context -> InvalidCiphertextException",
                 "InvalidCiphertextException", kms.decrypt, CiphertextBlob=ct1,
                 EncryptionContext={"purpose": "smoke", "client": "other"})
    expect_error("decrypt with no encryption context -> InvalidCiphertextException",
                 "InvalidCiphertextException", kms.decrypt, CiphertextBlob=ct1)
    tampered = bytearray(ct1)
    tampered[-1] ^= 0x01
    expect_error("decrypt of a tampered ciphertext -> InvalidCiphertextException",
                 "InvalidCiphertextException", kms.decrypt, CiphertextBlob=bytes(tampered), EncryptionContext=ctx)

    # -- rotation ------------------------------------------------------------------
    step("enable_key_rotation", kms.enable_key_rotation, KeyId=key_id)
    st = step("get_key_rotation_status", kms.get_key_rotation_status, KeyId=key_id)
    if st:
        check("rotation is enabled", st.get("KeyRotationEnabled") is True, repr(st))
    step("rotate_key_on_demand", kms.rotate_key_on_demand, KeyId=key_id)
    rotations = []
    for _ in range(20):  # AWS rotates asynchronously; give it up to 10 s
        lr = step_quiet(kms.list_key_rotations, KeyId=key_id)
        rotations = (lr or {}).get("Rotations", [])
        if rotations:
            break
        time.sleep(0.5)
    check("list_key_rotations shows one ON_DEMAND rotation",
          len(rotations) == 1 and rotations[0].get("RotationType") == "ON_DEMAND", repr(rotations))
    dec = step("decrypt pre-rotation ciphertext after rotation", kms.decrypt, CiphertextBlob=ct1,
               EncryptionContext=ctx)
    if dec:
        check("pre-rotation ciphertext gives back the plaintext", dec["Plaintext"] == plaintext)
    enc2 = step("encrypt after rotation", kms.encrypt, KeyId=arn, Plaintext=plaintext, EncryptionContext=ctx)
    if enc2:
        dec = step("decrypt post-rotation ciphertext", kms.decrypt, CiphertextBlob=enc2["CiphertextBlob"],
                   EncryptionContext=ctx)
        if dec:
            check("post-rotation ciphertext gives back the plaintext", dec["Plaintext"] == plaintext)

    # -- data keys -------------------------------------------------------------------
    gdk = step("generate_data_key AES_256", kms.generate_data_key, KeyId=ALIAS, KeySpec="AES_256",
               EncryptionContext=ctx)
    if gdk:
        check("data key plaintext is 32 bytes", len(gdk["Plaintext"]) == 32, str(len(gdk["Plaintext"])))
        check("generate_data_key KeyId is the full key ARN", gdk.get("KeyId") == arn, repr(gdk.get("KeyId")))
        dec = step("decrypt data key", kms.decrypt, CiphertextBlob=gdk["CiphertextBlob"], EncryptionContext=ctx)
        if dec:
            check("decrypted data key equals its plaintext", dec["Plaintext"] == gdk["Plaintext"])
    gdk = step("generate_data_key NumberOfBytes=64", kms.generate_data_key, KeyId=key_id, NumberOfBytes=64)
    if gdk:
        check("data key plaintext is 64 bytes", len(gdk["Plaintext"]) == 64, str(len(gdk["Plaintext"])))
    gwp = step("generate_data_key_without_plaintext", kms.generate_data_key_without_plaintext, KeyId=ALIAS,
               KeySpec="AES_128")
    if gwp:
        check("generate_data_key_without_plaintext has no Plaintext", "Plaintext" not in gwp, repr(sorted(gwp)))
        dec = step("decrypt key from generate_data_key_without_plaintext", kms.decrypt,
                   CiphertextBlob=gwp["CiphertextBlob"])
        if dec:
            check("that key is 16 bytes", len(dec["Plaintext"]) == 16, str(len(dec["Plaintext"])))
    rnd = step("generate_random 48", kms.generate_random, NumberOfBytes=48)
    if rnd:
        check("generate_random gives 48 bytes", len(rnd["Plaintext"]) == 48, str(len(rnd["Plaintext"])))

    # -- re-encrypt ---------------------------------------------------------------------
    other = require(step("create_key (re-encrypt destination)", kms.create_key, Description="trent smoke py 2"),
                    "second create_key failed")
    other_arn = other["KeyMetadata"]["Arn"]
    ctx2 = {"purpose": "smoke", "client": "py", "stage": "re-encrypted"}
    re_ = step("re_encrypt to another key with a new context", kms.re_encrypt, CiphertextBlob=ct1,
               SourceEncryptionContext=ctx, DestinationKeyId=other_arn, DestinationEncryptionContext=ctx2)
    if re_:
        check("re_encrypt SourceKeyId is the source key ARN", re_.get("SourceKeyId") == arn,
              repr(re_.get("SourceKeyId")))
        check("re_encrypt KeyId is the destination key ARN", re_.get("KeyId") == other_arn, repr(re_.get("KeyId")))
        dec = step("decrypt the re-encrypted ciphertext", kms.decrypt, CiphertextBlob=re_["CiphertextBlob"],
                   EncryptionContext=ctx2)
        if dec:
            check("re-encrypted ciphertext gives back the plaintext and names the new key",
                  dec["Plaintext"] == plaintext and dec.get("KeyId") == other_arn, repr(dec.get("KeyId")))
        expect_error("re-encrypted ciphertext with the old context -> InvalidCiphertextException",
                     "InvalidCiphertextException", kms.decrypt, CiphertextBlob=re_["CiphertextBlob"],
                     EncryptionContext=ctx)

    expect_error("decrypt with KeyId of another key -> IncorrectKeyException", "IncorrectKeyException",
                 kms.decrypt, CiphertextBlob=ct1, EncryptionContext=ctx, KeyId=other_arn)

    # -- update / delete alias, key policy ---------------------------------------------------
    tmp_alias = ALIAS + "-tmp"
    step(f"create_alias {tmp_alias}", kms.create_alias, AliasName=tmp_alias, TargetKeyId=key_id)
    expect_error("create_alias with a name in use -> AlreadyExistsException", "AlreadyExistsException",
                 kms.create_alias, AliasName=tmp_alias, TargetKeyId=key_id)
    step(f"update_alias {tmp_alias} to the second key", kms.update_alias, AliasName=tmp_alias, TargetKeyId=other_arn)
    d = step_quiet(kms.describe_key, KeyId=tmp_alias)
    check("the updated alias resolves to the second key", d is not None and d["KeyMetadata"]["Arn"] == other_arn,
          repr(d and d["KeyMetadata"].get("Arn")))
    step(f"delete_alias {tmp_alias}", kms.delete_alias, AliasName=tmp_alias)
    expect_error("describe_key by a deleted alias -> NotFoundException", "NotFoundException",
                 kms.describe_key, KeyId=tmp_alias)
    pol = step("get_key_policy default", kms.get_key_policy, KeyId=key_id, PolicyName="default")
    if pol:
        import json

        try:
            doc = json.loads(pol["Policy"])
        except ValueError as e:
            doc = None
            bad("key policy is JSON", str(e))
        if doc is not None:
            check("default key policy is a 2012-10-17 policy document",
                  doc.get("Version") == "2012-10-17" and isinstance(doc.get("Statement"), list), pol["Policy"][:200])
            doc.setdefault("Statement", []).append({
                "Sid": "SmokeDenyNothing", "Effect": "Deny",
                "Principal": {"AWS": f"arn:aws:iam::{account}:user/nobody-smoke"},
                "Action": "kms:ScheduleKeyDeletion", "Resource": "*"})
            step("put_key_policy", kms.put_key_policy, KeyId=key_id, PolicyName="default", Policy=json.dumps(doc))
            pol2 = step_quiet(kms.get_key_policy, KeyId=key_id, PolicyName="default")
            check("get_key_policy returns the policy that was put",
                  pol2 is not None and json.loads(pol2["Policy"]) == doc, repr(pol2 and pol2["Policy"][:300]))
            step("the key still works under the new policy", kms.encrypt, KeyId=key_id, Plaintext=b"x")
    expect_error("put_key_policy with invalid JSON -> MalformedPolicyDocumentException",
                 "MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key_id, PolicyName="default",
                 Policy="{not json")

    # -- list_keys paging -------------------------------------------------------------------
    full = step("list_keys", kms.list_keys)
    if full:
        full_arns = [k.get("KeyArn") for k in full.get("Keys", [])]
        check("list_keys contains both keys (KeyArn)", arn in full_arns and other_arn in full_arns,
              f"{len(full_arns)} keys")
        check("list_keys entries are {KeyId: id, KeyArn: arn}",
              all(ARN_RE.match(k.get("KeyArn", "")) and k["KeyArn"].endswith("/" + k.get("KeyId", "?"))
                  for k in full.get("Keys", [])), repr(full.get("Keys", [])[:2]))
        paged, marker, pages, bad_page = [], None, 0, None
        while pages < 500:
            kwargs = {"Limit": 1}
            if marker:
                kwargs["Marker"] = marker
            try:
                page = kms.list_keys(**kwargs)
            except Exception as e:  # noqa: BLE001
                bad_page = describe_error(e)
                break
            pages += 1
            if len(page.get("Keys", [])) > 1:
                bad_page = f"page {pages} has {len(page['Keys'])} keys with Limit=1"
                break
            paged += [k.get("KeyArn") for k in page.get("Keys", [])]
            if not page.get("Truncated"):
                break
            marker = page.get("NextMarker")
            if not marker:
                bad_page = f"page {pages}: Truncated but no NextMarker"
                break
        check("list_keys Limit=1 pages through every key once, following NextMarker",
              bad_page is None and sorted(paged) == sorted(full_arns) and pages == len(full_arns),
              bad_page or f"{pages} pages, {len(paged)} keys paged vs {len(full_arns)} listed")

    # -- tags --------------------------------------------------------------------------------
    step("tag_resource", kms.tag_resource, KeyId=key_id, Tags=[{"TagKey": "stage", "TagValue": "smoke"}])
    step("untag_resource", kms.untag_resource, KeyId=key_id, TagKeys=["client"])
    tags = step("list_resource_tags", kms.list_resource_tags, KeyId=key_id)
    if tags:
        got = {t["TagKey"]: t["TagValue"] for t in tags.get("Tags", [])}
        check("tags after tag/untag are {stage: smoke}", got == {"stage": "smoke"}, repr(got))

    # -- aliases --------------------------------------------------------------------------------
    la = step("list_aliases", kms.list_aliases)
    if la:
        mine = [a for a in la.get("Aliases", []) if a.get("AliasName") == ALIAS]
        check(f"list_aliases has {ALIAS} -> key id", len(mine) == 1 and mine[0].get("TargetKeyId") == key_id
              and mine[0].get("AliasArn") == f"arn:aws:kms:us-east-1:{account}:{ALIAS}", repr(mine))
    return arn


def step_quiet(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception:  # noqa: BLE001
        return None


def esdk_part(key_arn):
    import aws_encryption_sdk
    from aws_encryption_sdk import CommitmentPolicy
    from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
    from aws_encryption_sdk.key_providers.kms import StrictAwsKmsMasterKeyProvider

    ver = getattr(aws_encryption_sdk, "__version__", "?")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_KMS")
    session = botocore.session.Session()
    provider = StrictAwsKmsMasterKeyProvider(key_ids=[key_arn], botocore_session=session)
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    message = b"The AWS Encryption SDK for Python talks to Trent. " * 100
    ctx = {"purpose": "smoke", "client": "esdk-python"}

    # The provider makes its own boto3 client per region; the endpoint must come from the env.
    provider.add_regional_client(REGION)
    esdk_endpoint = provider._regional_clients[REGION].meta.endpoint_url  # noqa: SLF001
    check("Encryption SDK's KMS client uses AWS_ENDPOINT_URL_KMS", esdk_endpoint == endpoint,
          f"endpoint {esdk_endpoint!r}, env {endpoint!r}")
    if esdk_endpoint != endpoint:
        raise Fatal("the Encryption SDK would not talk to Trent")
    ok("Encryption SDK", f"aws-encryption-sdk {ver}")

    res = step("ESDK encrypt (REQUIRE_ENCRYPT_REQUIRE_DECRYPT, StrictAwsKmsMasterKeyProvider)",
               client.encrypt, source=message, key_provider=provider, encryption_context=ctx)
    if not res:
        return
    ciphertext, header = res
    check("ESDK message names the KMS key", any(k.key_provider.key_info == key_arn.encode() for k in header.encrypted_data_keys),
          repr([k.key_provider for k in header.encrypted_data_keys]))
    res = step("ESDK decrypt", client.decrypt, source=ciphertext, key_provider=provider)
    if not res:
        return
    plaintext, dheader = res
    check("ESDK round trip gives back the message", plaintext == message)
    check("ESDK decrypted header carries the encryption context",
          all(dheader.encryption_context.get(k) == v for k, v in ctx.items()), repr(dheader.encryption_context))

    # A provider for a different key must not decrypt it. The SDK logs the expected
    # failure with a traceback; keep that out of the output.
    esdk_log = logging.getLogger("aws_encryption_sdk")
    level = esdk_log.level
    esdk_log.setLevel(logging.CRITICAL + 1)
    try:
        other = boto3.client("kms", region_name=REGION).create_key(Description="trent smoke esdk other")
        other_arn = other["KeyMetadata"]["Arn"]
        wrong = StrictAwsKmsMasterKeyProvider(key_ids=[other_arn], botocore_session=botocore.session.Session())
        client.decrypt(source=ciphertext, key_provider=wrong)
        bad("ESDK decrypt with a provider for another key fails", "it succeeded")
    except AWSEncryptionSDKClientError as e:
        ok("ESDK decrypt with a provider for another key fails", type(e).__name__)
    except Exception as e:  # noqa: BLE001
        bad("ESDK decrypt with a provider for another key fails", describe_error(e))
    finally:
        esdk_log.setLevel(level)


def auth_part(endpoint, key_arn):
    """SigV4 failures, and a second account (added by run.sh with `trent credentials add`)."""
    import configparser

    creds = configparser.ConfigParser()
    creds.read(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    real_akid = creds.get("default", "aws_access_key_id", fallback="")

    def client(akid, secret):
        return boto3.client("kms", endpoint_url=endpoint, region_name=REGION,
                            aws_access_key_id=akid, aws_secret_access_key=secret)

    expect_error("unknown access key id -> UnrecognizedClientException", "UnrecognizedClientException",
                 client("AKIAUNKNOWNSMOKE0000", "x" * 40).list_keys)
    expect_error("right access key id, wrong secret -> InvalidSignatureException", "InvalidSignatureException",
                 client(real_akid, "wrong-secret-" + "y" * 27).list_keys)

    alt_akid = os.environ.get("SMOKE_ALT_ACCESS_KEY_ID")
    if not alt_akid:
        bad("second account", "run.sh could not add it with `trent credentials add`")
        return
    alt_account = os.environ["SMOKE_ALT_ACCOUNT_ID"]
    alt = client(alt_akid, os.environ["SMOKE_ALT_SECRET_ACCESS_KEY"])
    created = step("credentials added while serving work (create_key in the second account)", alt.create_key,
                   Description="trent smoke py, second account")
    if not created:
        return
    alt_arn = created["KeyMetadata"]["Arn"]
    check("second account's key ARN has its account id", alt_arn.startswith(f"arn:aws:kms:us-east-1:{alt_account}:key/"),
          alt_arn)
    listed = step("list_keys in the second account", alt.list_keys)
    if listed:
        arns = [k.get("KeyArn") for k in listed.get("Keys", [])]
        check("second account sees only its own keys", arns == [alt_arn], repr(arns))
    if key_arn.split(":")[4] == alt_account:
        bad("account isolation", f"the bootstrap account is {alt_account} too; cannot check isolation")
        return
    try:
        alt.describe_key(KeyId=key_arn)
        bad("second account cannot describe the first account's key", "it could")
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code")
        check("second account cannot describe the first account's key (AccessDenied/NotFound)",
              code in ("AccessDeniedException", "NotFoundException"), describe_error(e))
    try:
        alt.encrypt(KeyId=key_arn, Plaintext=b"x")
        bad("second account cannot encrypt under the first account's key ARN", "it could")
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code")
        check("second account cannot encrypt under the first account's key ARN (AccessDenied/NotFound)",
              code in ("AccessDeniedException", "NotFoundException"), describe_error(e))
    expect_error(f"{ALIAS} does not exist in the second account", "NotFoundException",
                 alt.encrypt, KeyId=ALIAS, Plaintext=b"x")


def main():
    endpoint = os.environ.get("AWS_ENDPOINT_URL_KMS")
    if not endpoint:
        print("FAIL py: AWS_ENDPOINT_URL_KMS is not set (run tests/smoke/run.sh)")
        return 1
    try:
        key_arn = boto3_part(endpoint)
        esdk_part(key_arn)
        auth_part(endpoint, key_arn)
    except Fatal as e:
        bad("cannot go on", str(e))
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        bad("unexpected exception", describe_error(e))
    print(f"py: {passed} passed, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
