// Runs a Magenta.js export in Node with the pure-JS CPU backend, for tests/test_export.py.
//   node parity.js <model URL> <request.json>
// request.json: {"inputs": [N][T][D] encoder inputs, "z": [M][Z] codes to decode greedily, and
// optionally "controls": {name: [T][C]} (Magenta.js's controlArgs.extraControls, e.g. GrooVAE's
// hits)}.
// Prints one JSON line: {"mu": [N][Z] (encodeTensors), "tokens": [M][T] (argmax of decodeTensors),
// "values": [M][T][W] (decodeTensors itself: one-hot steps, or GrooVAE's hits, velocities and
// offsets, or NADE drums' bits)}.
const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const mvae = require('@magenta/music/node/music_vae');

async function main() {
  const [url, requestPath] = process.argv.slice(2);
  const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
  await tf.setBackend('cpu');
  const model = new mvae.MusicVAE(url);
  await model.initialize();
  let controlArgs;
  if (request.controls) {
    const extraControls = {};
    for (const [name, value] of Object.entries(request.controls)) {
      extraControls[name] = tf.tensor2d(value);
    }
    controlArgs = {extraControls};
  }
  const mu = await model.encodeTensors(tf.tensor3d(request.inputs), controlArgs);
  // No temperature: Magenta.js decodes greedily (argmax; GrooVAE: hit where p > 0.5).
  const decoded = await model.decodeTensors(tf.tensor2d(request.z), undefined, controlArgs);
  const result = {mu: await mu.array(), tokens: await decoded.argMax(2).array(),
                  values: await decoded.array()};
  process.stdout.write(JSON.stringify(result) + '\n');
  model.dispose();
}

main().catch((error) => {
  process.stderr.write(`magenta_js_parity: ${error.stack || error}\n`);
  process.exit(1);
});
