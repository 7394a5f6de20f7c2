// Compiles order_system/contracts/*.sol offline with the npm solc package (solc-js) and writes
// order_system/build/<Contract>.json ({contractName, sourceName, abi, bytecode, ...}).
// Usage: node order_system/compile.mjs   (exit 1 with the compiler's messages on errors)
import { createRequire } from "node:module";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const contractsDir = join(here, "contracts");
// Not "artifacts/": run from the repo root, that folder would shadow the module
// order_system.artifacts (the outer order_system/ folder becomes a namespace package).
const artifactsDir = join(here, "build");

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function fail(message) {
  console.error(`compile: ${message}`);
  process.exit(1);
}

let solc;
try {
  solc = require("solc");
} catch (err) {
  fail(`cannot load the npm "solc" package (run "npm install" at the repo root): ${err.message}`);
}

const sources = {};
for (const file of readdirSync(contractsDir).sort()) {
  if (file.endsWith(".sol")) sources[file] = { content: readFileSync(join(contractsDir, file), "utf8") };
}
if (Object.keys(sources).length === 0) fail(`no .sol files in ${contractsDir}`);

const input = { language: "Solidity", sources, settings: SETTINGS };
// Every import is one of the files above; anything else is an error, never a download.
const findImports = (path) => ({ error: `import not found: ${path} (only ${contractsDir} is searched)` });
const started = Date.now();
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

const diagnostics = output.errors ?? [];
const errors = diagnostics.filter((d) => d.severity === "error");
for (const d of diagnostics) {
  if (d.severity !== "error") console.warn(d.formattedMessage ?? d.message);
}
if (errors.length > 0) {
  for (const d of errors) console.error(d.formattedMessage ?? d.message);
  fail(`${errors.length} error(s) from solc ${solc.version()}; no artifacts written`);
}

// Replace files one by one (write + rename) so a concurrent reader never sees a missing artifact.
mkdirSync(artifactsDir, { recursive: true });
const written = [];
for (const [sourceName, contracts] of Object.entries(output.contracts ?? {})) {
  for (const [contractName, out] of Object.entries(contracts)) {
    const artifact = {
      contractName,
      sourceName,
      compiler: { version: solc.version(), settings: { optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion } },
      abi: out.abi,
      bytecode: `0x${out.evm.bytecode.object}`,
      deployedBytecode: `0x${out.evm.deployedBytecode.object}`,
    };
    const target = join(artifactsDir, `${contractName}.json`);
    const temporary = `${target}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(artifact, null, 2)}\n`);
    renameSync(temporary, target);
    written.push(contractName);
  }
}
for (const file of readdirSync(artifactsDir)) {
  if (file.endsWith(".json") && !written.includes(file.slice(0, -".json".length))) {
    rmSync(join(artifactsDir, file));
  }
}
console.log(`compiled ${written.length} contracts with solc ${solc.version()} in ${Date.now() - started} ms: ${written.sort().join(", ")}`);
