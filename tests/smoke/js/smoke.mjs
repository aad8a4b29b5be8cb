// Smoke test of Trent with the AWS SDK for JavaScript v3 (@aws-sdk/client-kms).
// Run by tests/smoke/run.sh, which starts the server and exports AWS_SHARED_CREDENTIALS_FILE,
// AWS_CONFIG_FILE, AWS_REGION and AWS_ENDPOINT_URL_KMS. Credentials come from the shared
// credentials file through the SDK's default provider chain; the endpoint is passed explicitly.
// Prints one "PASS js: ..." / "FAIL js: ..." line per check; exits 1 if any failed.
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import {
  KMSClient,
  CreateKeyCommand,
  CreateAliasCommand,
  DescribeKeyCommand,
  EncryptCommand,
  DecryptCommand,
  RotateKeyOnDemandCommand,
  ListKeyRotationsCommand,
  GenerateDataKeyCommand,
  ListAliasesCommand,
} from "@aws-sdk/client-kms";

const ALIAS = "alias/smoke-js";
const ARN_RE =
  /^arn:aws:kms:us-east-1:(\d{12}):key\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

let passed = 0;
let failed = 0;
const ok = (name, detail) => {
  passed++;
  console.log(`PASS js: ${name}${detail ? ` (${detail})` : ""}`);
};
const bad = (name, detail) => {
  failed++;
  console.log(`FAIL js: ${name}${detail ? `: ${detail}` : ""}`);
};
const check = (name, cond, detail) => (cond ? ok(name) : bad(name, detail), cond);
const describe = (e) =>
  e && e.$metadata
    ? `${e.name} (HTTP ${e.$metadata.httpStatusCode}): ${e.message}`
    : `${e && e.name}: ${e && e.message}`;
const eq = (a, b) => a && b && Buffer.from(a).equals(Buffer.from(b));

class Fatal extends Error {}

const endpoint = process.env.AWS_ENDPOINT_URL_KMS;
const region = process.env.AWS_REGION || "us-east-1";
const kms = new KMSClient({ endpoint, region, maxAttempts: 1 });

async function step(name, command) {
  try {
    const out = await kms.send(command);
    ok(name);
    return out;
  } catch (e) {
    bad(name, describe(e));
    return undefined;
  }
}

async function main() {
  if (!endpoint) throw new Fatal("AWS_ENDPOINT_URL_KMS is not set (run tests/smoke/run.sh)");
  const require = createRequire(import.meta.url);
  const sdkVersion = require("@aws-sdk/client-kms/package.json").version;
  ok("KMS client", `@aws-sdk/client-kms ${sdkVersion}, node ${process.version}, endpoint ${endpoint}`);

  // -- create + alias --------------------------------------------------------------
  const created = await step(
    "CreateKey",
    new CreateKeyCommand({ Description: "trent smoke js", Tags: [{ TagKey: "client", TagValue: "js" }] }),
  );
  if (!created) throw new Fatal("CreateKey failed");
  const { Arn: arn, KeyId: keyId, KeyState: state } = created.KeyMetadata ?? {};
  console.log(`js: created ${arn}`);
  const m = ARN_RE.exec(arn ?? "");
  check("CreateKey Arn is arn:aws:kms:us-east-1:<account>:key/<KeyId>", m && m[2] === keyId, `Arn=${arn} KeyId=${keyId}`);
  check("CreateKey KeyState Enabled", state === "Enabled", state);
  const account = m ? m[1] : "unknown";

  await step(`CreateAlias ${ALIAS}`, new CreateAliasCommand({ AliasName: ALIAS, TargetKeyId: keyId }));
  const described = await step("DescribeKey by alias", new DescribeKeyCommand({ KeyId: ALIAS }));
  if (described) check("DescribeKey by alias gives the key", described.KeyMetadata?.Arn === arn, described.KeyMetadata?.Arn);

  // -- encrypt / decrypt ---------------------------------------------------------------
  const ctx = { purpose: "smoke", client: "js" };
  const plaintext = Buffer.concat([randomBytes(700), Buffer.from("trent smoke js")]);
  const enc = await step("Encrypt", new EncryptCommand({ KeyId: ALIAS, Plaintext: plaintext, EncryptionContext: ctx }));
  if (!enc) throw new Fatal("Encrypt failed");
  const ct1 = enc.CiphertextBlob;
  check("Encrypt KeyId is the full key ARN", enc.KeyId === arn, enc.KeyId);
  const dec = await step("Decrypt", new DecryptCommand({ CiphertextBlob: ct1, EncryptionContext: ctx }));
  if (dec) {
    check("Decrypt gives back the plaintext", eq(dec.Plaintext, plaintext));
    check("Decrypt KeyId is the full key ARN", dec.KeyId === arn, dec.KeyId);
  }
  try {
    await kms.send(new DecryptCommand({ CiphertextBlob: ct1, EncryptionContext: { purpose: "other" } }));
    bad("Decrypt with the wrong context fails", "it succeeded");
  } catch (e) {
    check(
      "Decrypt with the wrong context fails with InvalidCiphertextException",
      e.name === "InvalidCiphertextException",
      describe(e),
    );
  }

  // -- rotation ------------------------------------------------------------------------
  const rot = await step("RotateKeyOnDemand", new RotateKeyOnDemandCommand({ KeyId: keyId }));
  if (rot) check("RotateKeyOnDemand names the key", rot.KeyId === keyId || rot.KeyId === arn, rot.KeyId);
  let rotations = [];
  for (let i = 0; i < 20; i++) {
    // AWS rotates asynchronously; give it up to 10 s
    try {
      rotations = (await kms.send(new ListKeyRotationsCommand({ KeyId: keyId }))).Rotations ?? [];
    } catch (e) {
      rotations = [];
    }
    if (rotations.length) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  check(
    "ListKeyRotations shows one ON_DEMAND rotation",
    rotations.length === 1 && rotations[0].RotationType === "ON_DEMAND",
    JSON.stringify(rotations),
  );
  const dec2 = await step(
    "Decrypt the pre-rotation ciphertext after rotation",
    new DecryptCommand({ CiphertextBlob: ct1, EncryptionContext: ctx, KeyId: arn }),
  );
  if (dec2) check("pre-rotation ciphertext gives back the plaintext", eq(dec2.Plaintext, plaintext));
  const enc3 = await step(
    "Encrypt after rotation",
    new EncryptCommand({ KeyId: arn, Plaintext: plaintext, EncryptionContext: ctx }),
  );
  if (enc3) {
    const dec3 = await step(
      "Decrypt the post-rotation ciphertext",
      new DecryptCommand({ CiphertextBlob: enc3.CiphertextBlob, EncryptionContext: ctx }),
    );
    if (dec3) check("post-rotation ciphertext gives back the plaintext", eq(dec3.Plaintext, plaintext));
  }

  // -- data keys ------------------------------------------------------------------------
  const gdk = await step("GenerateDataKey AES_256", new GenerateDataKeyCommand({ KeyId: ALIAS, KeySpec: "AES_256" }));
  if (gdk) {
    check("data key plaintext is 32 bytes", gdk.Plaintext?.length === 32, String(gdk.Plaintext?.length));
    check("GenerateDataKey KeyId is the full key ARN", gdk.KeyId === arn, gdk.KeyId);
    const dk = await step("Decrypt the data key", new DecryptCommand({ CiphertextBlob: gdk.CiphertextBlob }));
    if (dk) check("decrypted data key equals its plaintext", eq(dk.Plaintext, gdk.Plaintext));
  }

  // -- aliases -------------------------------------------------------------------------
  const aliases = await step("ListAliases for the key", new ListAliasesCommand({ KeyId: keyId }));
  if (aliases) {
    const names = (aliases.Aliases ?? []).map((a) => a.AliasName);
    check(
      `ListAliases(KeyId) is exactly [${ALIAS}]`,
      names.length === 1 && names[0] === ALIAS && aliases.Aliases[0].AliasArn === `arn:aws:kms:us-east-1:${account}:${ALIAS}`,
      JSON.stringify(aliases.Aliases),
    );
  }
}

try {
  await main();
} catch (e) {
  if (e instanceof Fatal) bad("cannot go on", e.message);
  else bad("unexpected exception", `${describe(e)}\n${e && e.stack}`);
}
console.error(`js: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
