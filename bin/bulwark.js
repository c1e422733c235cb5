#!/usr/bin/env node
// The CLI runs TypeScript sources directly with Node 24's type stripping; older runtimes can't.
const [major] = process.versions.node.split(".").map(Number);
if (major < 24) {
  process.stderr.write(
    `bulwark needs Node.js >= 24 (this is ${process.version}). Run it through npm (npm start, npm run bulwark -- <command>),\n` +
      "which uses the Node 24 pinned in devDependencies, or put node_modules/.bin first on your PATH.\n",
  );
  process.exit(1);
}
const { runCli } = await import("../src/cli/main.ts");
await runCli();
