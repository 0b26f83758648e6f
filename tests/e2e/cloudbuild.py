"""Runs the Docker steps of a generated cloudbuild.yaml as Cloud Build runs them, on this machine.

    python tests/e2e/cloudbuild.py CONFIG [-s _KEY=VALUE ...]

Needs DOCKER_HOST (tests/e2e/engine.sh start prints it). What it does, as Cloud Build does:

- substitutions: the built-in ones ($PROJECT_ID, $BUILD_ID, which is new at every run,
  $PROJECT_NUMBER, an empty $COMMIT_SHA as in a manual build), then the file's own, then -s
  (which replaces a value, the way `gcloud builds submit --substitutions` does); with
  `dynamicSubstitutions`, a value may name others (bash-style ${_X}), expanded once, in order;
- every step whose builder is gcr.io/cloud-builders/docker, in order, in the folder that holds
  the file (the upload's root), with its `entrypoint` (docker by default), `args`, `env` and
  `dir`; the docker client installed beside dockerd stands in for the builder's, with
  DOCKER_BUILDKIT=1 unless the step says otherwise (newer Docker releases build with BuildKit
  by default, and BuildKit takes no layer from a plain --cache-from image);
- the other steps (gcloud deploys and jobs) are named and skipped: nothing here reaches Google;
- after the last step, every entry of `images:` is pushed.

Each step's output is framed by `cloudbuild: step ID: ...` lines, so a caller can read one step.
A failed step ends the run with its exit code, as it fails a build.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import uuid

import yaml

DOCKER_BUILDER = "gcr.io/cloud-builders/docker"
REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def expand(text, table):
    """Cloud Build's substitution: `$$` is a `$`, and a reference to no substitution fails the
    build (as it does without `substitutionOption: ALLOW_LOOSE`)."""

    def one(match):
        if match.group(0) == "$$":
            return "$"
        key = match.group(1) or match.group(2)
        if key not in table:
            sys.exit(f"cloudbuild: {text!r} names ${key}, which is no substitution: the build is refused")
        return table[key]

    return REFERENCE.sub(one, str(text))


def client_path():
    """PATH with the client of dockerd's own package first: beside it, or in the bin folder
    next to its sbin (Debian's docker.io: /usr/bin/docker, /usr/sbin/dockerd)."""
    path = os.environ.get("PATH", "")
    dockerd = shutil.which("dockerd")
    if dockerd:
        sbin = os.path.dirname(os.path.realpath(dockerd))
        for folder in (sbin, os.path.join(os.path.dirname(sbin), "bin")):
            if os.access(os.path.join(folder, "docker"), os.X_OK):
                return folder + os.pathsep + path
    return path


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
        # A builder whose Docker defaults to BuildKit, as Docker 23 and later do: only the
        # step's own env chooses the classic builder. The client installed beside dockerd
        # comes first, since it can build with either.
        env = dict(os.environ, DOCKER_BUILDKIT="1", PATH=client_path())
        for item in step.get("env") or []:
            key, _, value = expand(item, table).partition("=")
            env[key] = value
        argv = [step.get("entrypoint", "docker")] + [expand(a, table) for a in step.get("args") or []]
        run(step_id, argv, os.path.join(root, step.get("dir", "")), env)

    for image in config.get("images") or []:
        run("images", ["docker", "push", "--quiet", expand(image, table)], root, dict(os.environ, PATH=client_path()))
    say(f"build {table['BUILD_ID']} done")


if __name__ == "__main__":
    main()
