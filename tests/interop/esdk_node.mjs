// Drive the official AWS Encryption SDK for JavaScript (node) for Vault's
// interoperability tests. Same manifest as esdk_py.py:
//   node esdk_node.mjs encrypt|decrypt MANIFEST.json
import { readFileSync, writeFileSync } from 'node:fs';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  MultiKeyringNode,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';

const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

function keyring(specs) {
  const [generator, ...children] = specs.map(
    (s) =>
      new RawAesKeyringNode({
        keyNamespace: s.namespace,
        keyName: s.name,
        // The SDK wants a buffer that owns its whole ArrayBuffer.
        unencryptedMasterKey: new Uint8Array(Buffer.from(s.key_hex, 'hex')),
        wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
      }),
  );
  return children.length ? new MultiKeyringNode({ generator, children }) : generator;
}

const [mode, manifest] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(manifest, 'utf8'));
for (const c of cases) {
  const input = readFileSync(c.input);
  if (mode === 'encrypt') {
    const { result } = await encrypt(keyring(c.keys), input, {
      encryptionContext: c.context,
      frameLength: c.frame_length,
      suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
    });
    writeFileSync(c.output, result);
  } else {
    const { plaintext, messageHeader } = await decrypt(keyring(c.keys), input);
    if (messageHeader.suiteId !== AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY) {
      throw new Error(`${c.input}: suite ${messageHeader.suiteId}`);
    }
    const want = JSON.stringify(Object.entries(c.context).sort());
    const got = JSON.stringify(Object.entries(messageHeader.encryptionContext).sort());
    if (want !== got) throw new Error(`${c.input}: context ${got} != ${want}`);
    writeFileSync(c.output, plaintext);
  }
}
console.log(`node esdk: ${mode} ${cases.length} cases ok`);
