"""Runs the Docker steps of a generated cloudbuild.yaml as Cloud Build runs them, on this machine.

    python tests/e2e/cloudbuild.py CONFIG [-s _KEY=VALUE ...]

Needs DOCKER_HOST (tests/e2e/engine.sh start prints it). What it does, as Cloud Build does:

- substitutions: the built-in ones ($PROJECT_ID, $BUILD_ID, which is new at every run,
  $PROJECT_NUMBER, an empty $COMMIT_SHA as in a manual build), then the file's own, then -s
  (which replaces a value, the way `gcloud builds submit --substitutions` does); with
  `dynamicSubstitutions`, a value may name others (bash-style ${_X}), expanded once, in order;
- every step whose builder is gcr.io/cloud-builders/docker, in order, in the folder that holds
  the file (the upload's root), with its `entrypoint` (docker by default), `args`, `env` and
  `dir`; the docker of PATH stands in for the builder's;
- the other steps (gcloud deploys and jobs) are named and skipped: nothing here reaches Google;
- after the last step, every entry of `images:` is pushed.

Each step's output is framed by `cloudbuild: step ID: ...` lines, so a caller can read one step.
A failed step ends the run with its exit code, as it fails a build.
"""

import argparse
import os
import re
import subprocess
import sys
import time
import uuid

import yaml

DOCKER_BUILDER = "gcr.io/cloud-builders/docker"
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def expand(text, table):
    def one(match):
        key = match.group(1) or match.group(2)
        return table.get(key, match.group(0))

    return REFERENCE.sub(one, str(text))


def say(text):
    print(f"cloudbuild: {text}", flush=True)


def run(step_id, argv, cwd, env):
    say(f"step {step_id}: {' '.join(argv)}")
    start = time.monotonic()
    code = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.STDOUT).returncode
    say(f"step {step_id}: exit {code} after {time.monotonic() - start:.2f} s")
    if code != 0:
        say(f"step {step_id} failed: the build stops here")
        sys.exit(code)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("-s", "--substitution", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--project", default="demo-project-123")
    args = parser.parse_args()
    if "DOCKER_HOST" not in os.environ:
        sys.exit("cloudbuild: DOCKER_HOST is not set: run bash tests/e2e/engine.sh start")

    with open(args.config, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    root = os.path.dirname(os.path.abspath(args.config))
    table = {
        "PROJECT_ID": args.project,
        "PROJECT_NUMBER": "123456789012",
        "BUILD_ID": str(uuid.uuid4()),
        "LOCATION": "global",
        "COMMIT_SHA": "",
        "SHORT_SHA": "",
        "REVISION_ID": "",
        "BRANCH_NAME": "",
        "TAG_NAME": "",
    }
    overrides = {}
    for item in args.substitution:
        key, sep, value = item.partition("=")
        if not sep:
            sys.exit(f"cloudbuild: -s {item}: expected KEY=VALUE")
        overrides[key] = value
    dynamic = bool((config.get("options") or {}).get("dynamicSubstitutions"))
    for key, value in (config.get("substitutions") or {}).items():
        if key in overrides:
            continue
        table[key] = expand(value, table) if dynamic else str(value)
    table.update(overrides)
    say(f"build {table['BUILD_ID']} of {args.config}")

    for number, step in enumerate(config["steps"]):
        step_id = step.get("id", f"step-{number}")
        if not step["name"].startswith(DOCKER_BUILDER):
            say(f"step {step_id}: skipped ({step['name']} is not the Docker builder)")
            continue
        env = dict(os.environ)
        for item in step.get("env") or []:
            key, _, value = expand(item, table).partition("=")
            env[key] = value
        argv = [step.get("entrypoint", "docker")] + [expand(a, table) for a in step.get("args") or []]
        run(step_id, argv, os.path.join(root, step.get("dir", "")), env)

    for image in config.get("images") or []:
        run("images", ["docker", "push", "--quiet", expand(image, table)], root, dict(os.environ))
    say(f"build {table['BUILD_ID']} done")


if __name__ == "__main__":
    main()
