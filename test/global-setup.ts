// Builds dist/ once before the suites that spawn `node dist/cli.js` or agents.
import { execFileSync } from "node:child_process";

export default function setup(): void {
  execFileSync("npm", ["run", "build", "--silent"], { stdio: "inherit" });
}
