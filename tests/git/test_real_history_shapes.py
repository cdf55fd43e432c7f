"""The two real credentials found in rails' old `.travis.yml` revisions, rebuilt with synthetic
values of the same structure, committed and then deleted, so history scans keep finding them:
an AWS access key id in a CI env matrix, and a Sauce Labs access key hidden as base64 of a shell
`export SAUCE_ACCESS_KEY=<uuid>` line decoded at build time."""

from __future__ import annotations

import base64

from gitrepo import Repo

from leakwarden.api import scan_git

AWS_ID = "AKIAQX3HZT7VMW2KD5RB"  # synthetic: AKIA + 16 base32 characters
SAUCE_KEY = "3f8e2c1a-9b4d-4e7f-a2c6-58d1b0e94f37"  # synthetic UUID, the documented key shape

TRAVIS = f"""language: ruby
before_script:
  # Set Sauce Labs username and access key. Obfuscated, purposefully not encrypted.
  - $(base64 --decode <<< "{base64.b64encode(f'export SAUCE_ACCESS_KEY={SAUCE_KEY}'.encode()).decode()}")
  - $(base64 --decode <<< "{base64.b64encode(b'export SAUCE_USERNAME=someproject').decode()}")
env:
  matrix:
    - "GEM=activestorage"
    - "AWS_ACCESS_KEY_ID={AWS_ID}"
"""


def test_travis_aws_key_id_and_base64_sauce_key_are_found_in_history(tmp_path):
    repo = Repo(tmp_path / "repo")
    repo.commit("initial", {"README.md": "hello\n"})
    added = repo.commit("ci: run integration tests on Sauce Labs", {".travis.yml": TRAVIS})
    repo.commit("ci: move to another CI", remove=(".travis.yml",))
    found = {f.rule_id: f for f in scan_git(repo.path).findings}
    assert found["aws-access-key-id"].secret.reveal() == AWS_ID
    sauce = found["saucelabs-access-key"]
    assert sauce.secret.reveal() == SAUCE_KEY
    assert sauce.decoded == "base64"
    assert sauce.location.commit == added
    assert sauce.location.path == ".travis.yml"
    assert sauce.location.start_line == 4  # the encoded text's line
