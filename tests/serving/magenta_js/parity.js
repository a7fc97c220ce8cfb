// Runs a Magenta.js export in Node with the pure-JS CPU backend, for tests/test_export.py.
//   node parity.js <model URL> <request.json>
// request.json: {"inputs": [N][T][D] encoder inputs, "z": [M][Z] codes to decode by argmax}.
// Prints one JSON line: {"mu": [N][Z] (encodeTensors), "tokens": [M][T] (argmax of decodeTensors)}.
const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const mvae = require('@magenta/music/node/music_vae');

async function main() {
  const [url, requestPath] = process.argv.slice(2);
  const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
  await tf.setBackend('cpu');
  const model = new mvae.MusicVAE(url);
  await model.initialize();
  const mu = await model.encodeTensors(tf.tensor3d(request.inputs));
  // No temperature: Magenta.js decodes by argmax and returns one-hot steps.
  const decoded = await model.decodeTensors(tf.tensor2d(request.z));
  const result = {mu: await mu.array(), tokens: await decoded.argMax(2).array()};
  process.stdout.write(JSON.stringify(result) + '\n');
  model.dispose();
}

main().catch((error) => {
  process.stderr.write(`magenta_js_parity: ${error.stack || error}\n`);
  process.exit(1);
});
