// The @signpdf peer for bench/peers_bench: signs a PDF with a PKCS#12 (RSA only: node-forge
// reads neither EC keys nor certificates signed with ECDSA) the way its README shows,
// plainAddPlaceholder then SignPdf.sign with a P12Signer. Reads the input and writes the
// output on every document, as a script signing files would.
//
//   node bench/signpdf_peer.js --modules DIR --p12 KEY.p12 --in IN.pdf --out OUT.pdf
//       one document (bench/peers_bench runs one process per document)
//   node bench/signpdf_peer.js --modules DIR --p12 KEY.p12 --in IN.pdf --out OUT.pdf --count N
//       [--max-seconds S]
//       N documents in this process, or fewer if S seconds pass first (OUT.pdf is the first
//       one); prints one line of key=value figures, as bench/sign_bench does
//
// DIR is the folder npm installed @signpdf/signpdf, @signpdf/signer-p12,
// @signpdf/placeholder-plain and node-forge into (its node_modules' parent).
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

function parseArgs(argv) {
  const options = { count: 0, maxSeconds: Infinity };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${name}: missing value`);
    switch (name) {
      case '--modules': options.modules = value; break;
      case '--p12': options.p12 = value; break;
      case '--passphrase': options.passphrase = value; break;
      case '--in': options.input = value; break;
      case '--out': options.output = value; break;
      case '--count': options.count = Number.parseInt(value, 10); break;
      case '--max-seconds': options.maxSeconds = Number.parseFloat(value); break;
      default: throw new Error(`unknown option ${name}`);
    }
  }
  for (const [key, flag] of [['modules', '--modules'], ['p12', '--p12'], ['input', '--in'],
    ['output', '--out']]) {
    if (!options[key]) throw new Error(`${flag} is required`);
  }
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const load = createRequire(path.join(path.resolve(options.modules), 'package.json'));
  const { SignPdf } = load('@signpdf/signpdf');
  const { P12Signer } = load('@signpdf/signer-p12');
  const { plainAddPlaceholder } = load('@signpdf/placeholder-plain');

  const p12 = fs.readFileSync(options.p12);
  const signPdf = new SignPdf();
  const signOne = async (output) => {
    // A P12Signer signs once: it keeps the PKCS#12 in a node-forge buffer that parsing it
    // consumes, so a second sign() fails with "Too few bytes to parse DER".
    const signer = new P12Signer(p12, { passphrase: options.passphrase || '' });
    const withPlaceholder = plainAddPlaceholder({
      pdfBuffer: fs.readFileSync(options.input),
      reason: 'credd peers_bench',
      contactInfo: 'registrar@college.example',
      name: 'credd bench signer rsa',
      location: 'bench',
    });
    fs.writeFileSync(output, await signPdf.sign(withPlaceholder, signer));
  };

  if (options.count <= 0) {
    await signOne(options.output);
    return;
  }
  // Later documents overwrite one scratch file next to OUT.pdf, which keeps the first.
  const scratch = `${options.output}.next`;
  const began = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - began) / 1e9;
  let documents = 0;
  while (documents < options.count) {
    await signOne(documents === 0 ? options.output : scratch);
    documents += 1;
    if (elapsed() >= options.maxSeconds) break;
  }
  const seconds = elapsed();
  console.log(`documents=${documents} seconds=${seconds.toFixed(2)} ` +
              `documents_per_s=${(documents / seconds).toFixed(1)}`);
}

main().catch((error) => {
  console.error(`signpdf_peer: ${error && error.message ? error.message : error}`);
  process.exit(1);
});
