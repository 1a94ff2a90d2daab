"""The registry of record: jobs on fresh workspaces (separate folders, no shared store) that share only the
fake GitHub's Git database, as jobs on hosted runners share only the repository."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, slow_step
from tests.fakes.github_api import GIT_SPEC, FakeGitHub
from tests.github_runner import ENTRYPOINT, GITHUB, Result, Runner
from tests.review.scenario import set_epochs

REF = "refs/retrain/registry"


def workspace(project: Path, tmp: Path, name: str) -> Path:
    """A fresh checkout of ``project`` on a new runner: the repository's files, no .retrain."""
    other = tmp / name / "workspace"
    shutil.copytree(project, other, ignore=shutil.ignore_patterns(".retrain"))
    return other


def job(project: Path, github: FakeGitHub, tmp: Path, name: str, event: str = "push",
        changed: tuple[str, ...] = ("data/other.csv",), payload: dict | None = None, **inputs: str) -> Result:
    """One workflow job on its own runner (own workspace, own output files), run as the runner starts the action."""
    runner_dir = tmp / name / "runner"
    runner_dir.mkdir(parents=True, exist_ok=True)
    runner = Runner(project, github, runner_dir)
    if payload is None:
        payload = runner.push(list(changed)) if event == "push" else {}
    env = runner.env(event, payload, **inputs)
    env["GITHUB_RUN_ID"] = str(abs(hash(name)) % 10**9)
    proc = subprocess.run([sys.executable, str(ENTRYPOINT), "action"], env=env, cwd=project,
                          capture_output=True, text=True, timeout=300, check=False)
    return runner.result(proc.returncode, proc.stdout, proc.stderr)


def registry_events(github: FakeGitHub) -> list[dict]:
    return [json.loads(line) for line in github.git.file(REF, "events.jsonl").decode().splitlines()]


def change_pipeline(root: Path, epochs: int) -> None:
    set_epochs(root, epochs)
    git(root, "commit", "-qam", f"epochs {epochs}")


def test_the_second_job_on_a_fresh_runner_publishes_version_2_and_compares_with_the_first(
        project: Path, github: FakeGitHub, tmp_path: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("submit_on: [merge, data, dispatch]",
                                                         "submit_on: [merge, data, dispatch, pull_request]")
    # A gate: a merge's new version runs, is compared with the default's latest run, and becomes the default.
    (project / "retrain.yml").write_text(text + '    promote:\n      score: ">= 0"\n')
    git(project, "commit", "-qam", "drafts on pull requests; a gate")

    one = workspace(project, tmp_path, "job1")
    first = job(one, github, tmp_path, "job1")
    assert first.code == 0, first.stderr + first.stdout
    assert first.outputs["published-version"] == "1"
    assert "registry: refs/retrain/registry (none yet: the first write makes it)" in first.stdout
    first_run = first.outputs["run-id"]
    assert first.outputs["outputs-dir"] == f".retrain/runs/{first_run}"
    assert (one / first.outputs["outputs-dir"] / "steps" / "train").is_dir()

    two = workspace(project, tmp_path, "job2")
    change_pipeline(two, 4)
    second = job(two, github, tmp_path, "job2", changed=("pipelines/tiny/pipeline.yml",))
    assert second.code == 0, second.stderr + second.stdout
    assert "registry: refs/retrain/registry at " in second.stdout and " record(s) taken into .retrain" in second.stdout
    assert second.outputs["published-version"] == "2"
    assert second.outputs["version"] == "2"
    assert second.outputs["baseline-run-id"] == first_run  # the first job's run, known from the registry
    assert second.outputs["gate"] == "passed"
    summaries = [c["output"]["summary"] or "" for c in github.runs_named("retrain / tiny")]
    assert any(f"baseline: run {first_run} (version 1)" in s for s in summaries)

    # A pull request's draft in a third job compares against the default's latest run: the second job's.
    three = workspace(project, tmp_path, "job3")
    set_epochs(three, 1)
    github.compare_files = ["pipelines/tiny/pipeline.yml"]
    pr = json.loads((GITHUB / "pull_request-opened.json").read_text())
    pr["repository"]["full_name"] = github.repository
    draft = job(three, github, tmp_path, "job3", event="pull_request", payload=pr)
    assert draft.code == 0, draft.stderr + draft.stdout
    assert draft.outputs["draft"] == "true"
    assert draft.outputs["baseline-run-id"] == second.outputs["run-id"]
    pushed = [u for u in github.git.updates if u[2] in (200, 201)]
    assert len(pushed) == len(github.git.history(REF))  # the pull request's job wrote nothing
    assert github.violations == []

    # The registry holds both versions, both runs (ended, with metrics) and the two snapshots.
    events = registry_events(github)
    versions = {tuple(e["key"]) for e in events if e["kind"] == "version"}
    assert versions == {("tiny-retrain", 1), ("tiny-retrain", 2)}
    runs = {e["key"][0]: e["data"] for e in events if e["kind"] == "run"}  # the last event of each run
    assert runs[first_run]["status"] == runs[second.outputs["run-id"]]["status"] == "completed"
    assert "score" in runs[first_run]["metrics"]
    assert runs[first_run]["tags"]["retrain.outputs"].startswith("https://github.com/octo-org/census/actions/runs/")


def test_a_fresh_job_runs_an_earlier_jobs_version_from_its_snapshot_in_the_registry(
        project: Path, github: FakeGitHub, tmp_path: Path) -> None:
    one = workspace(project, tmp_path, "job1")
    assert job(one, github, tmp_path, "job1").code == 0
    two = workspace(project, tmp_path, "job2")
    change_pipeline(two, 5)
    assert job(two, github, tmp_path, "job2", changed=("pipelines/tiny/pipeline.yml",)).outputs["published-version"] == "2"
    three = workspace(project, tmp_path, "job3")
    change_pipeline(three, 7)  # this checkout's pipeline is neither version: version 1 runs from its snapshot
    dispatch = json.loads((GITHUB / "workflow_dispatch.json").read_text())
    dispatch["repository"]["full_name"] = github.repository
    result = job(three, github, tmp_path, "job3", event="workflow_dispatch", payload=dispatch, version="1")
    assert result.code == 0, result.stderr + result.stdout
    assert result.outputs["version"] == "1"
    # Only the snapshot the run needed came from the registry: version 1's, as the first job published it.
    [snapshot] = [p for p in (three / ".retrain" / "snapshots").iterdir() if not p.name.startswith(".")]
    assert "    default: 3\n" in (snapshot / "pipeline.yml").read_text()  # epochs as version 1 had it
    files = sorted(p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file())
    assert files == ["components/prep.yml", "components/train.yml", "pipeline.yml", "src/prep.py", "src/train.py"]
    assert not (snapshot / "pipeline.yml").stat().st_mode & 0o222  # read-only, stored once by content like any other
    # Readable by the runner's user when a root container fetched it (mkdtemp alone makes 0700).
    assert all(p.stat().st_mode & 0o005 == 0o005 for p in [snapshot, *snapshot.rglob("*")] if p.is_dir())


def test_ten_concurrent_jobs_lose_no_version_and_reuse_no_number(project: Path, github: FakeGitHub, tmp_path: Path) -> None:
    # A gate makes each job run the version it published (not whatever the default is meanwhile), and
    # promotes it once its run passes: concurrent default moves too.
    with (project / "retrain.yml").open("a") as f:
        f.write('    promote:\n      score: ">= 0"\n')
    git(project, "commit", "-qam", "a gate every run passes")
    procs = []
    for i in range(10):
        root = workspace(project, tmp_path, f"job{i}")
        change_pipeline(root, 10 + i)  # ten different pipelines: ten versions
        runner_dir = tmp_path / f"job{i}" / "runner"
        runner_dir.mkdir()
        runner = Runner(root, github, runner_dir)
        env = runner.env("push", runner.push(["pipelines/tiny/pipeline.yml"]))
        env["GITHUB_RUN_ID"] = str(9000 + i)
        procs.append((runner, subprocess.Popen([sys.executable, str(ENTRYPOINT), "action"], env=env, cwd=root,
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    results = []
    for runner, proc in procs:
        out, err = proc.communicate(timeout=600)
        results.append(runner.result(proc.returncode, out, err))
    for r in results:
        assert r.code == 0, r.stderr + r.stdout
    published = sorted(int(r.outputs["published-version"]) for r in results)
    assert published == list(range(1, 11))  # every job got its own number
    assert all(r.outputs["version"] == r.outputs["published-version"] for r in results)  # its run used it
    assert any(u[2] == 422 for u in github.git.updates)  # refused writes (another job first) were merged and retried
    events = registry_events(github)
    hashes = {}
    for e in events:
        if e["kind"] == "version":
            assert hashes.setdefault(tuple(e["key"]), e["data"]["content_hash"]) == e["data"]["content_hash"]
    assert sorted(k[1] for k in hashes) == list(range(1, 11))
    assert len(set(hashes.values())) == 10  # ten contents, none lost
    runs = {e["key"][0]: e["data"] for e in events if e["kind"] == "run"}
    assert sorted(r["version"] for r in runs.values()) == list(range(1, 11))
    assert {r.outputs["run-id"] for r in results} == set(runs)
    assert all(r["status"] == "completed" for r in runs.values())
    assert github.violations == []


def test_a_read_only_token_reads_the_registry_and_says_once_what_permission_writing_needs(
        project: Path, github: FakeGitHub, tmp_path: Path) -> None:
    one = workspace(project, tmp_path, "job1")
    assert job(one, github, tmp_path, "job1").code == 0
    head = github.git.refs[REF]
    github.contents = "read"
    two = workspace(project, tmp_path, "job2")
    change_pipeline(two, 6)
    result = job(two, github, tmp_path, "job2", changed=("pipelines/tiny/pipeline.yml",))
    assert result.code == 0, result.stderr + result.stdout  # the work itself is done
    assert result.outputs["status"] == "success"
    assert result.outputs["published-version"] == "2"  # it knew version 1 from the registry
    warnings = [line for line in result.stdout.splitlines() if "cannot be written" in line]
    assert len(warnings) == 1, warnings
    assert "permissions: contents: write" in warnings[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert github.git.refs[REF] == head  # nothing written


def test_no_contents_permission_at_all_still_runs_the_work(project: Path, github: FakeGitHub, tmp_path: Path) -> None:
    github.contents = "none"
    result = job(workspace(project, tmp_path, "job1"), github, tmp_path, "job1")
    assert result.code == 0, result.stderr + result.stdout
    assert "the registry refs/retrain/registry could not be read" in result.stdout
    assert "permissions: contents: read" in result.stdout


def test_a_damaged_or_unknown_event_is_named_and_kept(project: Path, github: FakeGitHub, tmp_path: Path) -> None:
    assert job(workspace(project, tmp_path, "job1"), github, tmp_path, "job1").code == 0
    db = github.git
    events = db.file(REF, "events.jsonl").decode()
    lines = events.splitlines()
    damaged = lines[:1] + ['{"kind": "version", "key": ["tiny-retrain"'] + lines[1:] + [
        json.dumps({"v": 2, "id": "f" * 32, "kind": "hologram", "key": ["x"], "data": {}, "writer": "w", "at": "2099-01-01"})]
    blob = db._put("blob", ("\n".join(damaged) + "\n").encode())
    tree = db._write_tree({**db._entries(db.objects[db.refs[REF]]["tree"]),
                           "events.jsonl": {"mode": "100644", "type": "blob", "sha": blob}})
    commit = db._put("commit", f"tree {tree}\nparent {db.refs[REF]}\n\nhand edit\n".encode(), tree=tree,
                     parents=[db.refs[REF]], message="hand edit", text="")
    db.refs[REF] = commit

    two = workspace(project, tmp_path, "job2")
    change_pipeline(two, 8)
    result = job(two, github, tmp_path, "job2", changed=("pipelines/tiny/pipeline.yml",))
    assert result.code == 0, result.stderr + result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "events.jsonl in refs/retrain/registry:2: " in result.stdout
    assert "an event of kind &#39;hologram&#39;" in result.stdout or "an event of kind 'hologram'" in result.stdout
    assert result.outputs["published-version"] == "2"  # the rest of the registry was read
    after = db.file(REF, "events.jsonl").decode()
    assert '{"kind": "version", "key": ["tiny-retrain"' in after and '"hologram"' in after  # kept for whoever reads them


def test_retrain_pull_on_a_laptop_shows_what_ci_published(project: Path, github: FakeGitHub, tmp_path: Path) -> None:
    first = job(workspace(project, tmp_path, "job1"), github, tmp_path, "job1")
    assert first.code == 0
    laptop = workspace(project, tmp_path, "laptop")
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path), "GH_TOKEN": github.token,
           "GITHUB_API_URL": github.url}
    cli = [sys.executable, "-m", "retrain"]
    missing = subprocess.run([*cli, "pull"], cwd=laptop, env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert "pass --repo OWNER/NAME" in missing.stderr
    git(laptop, "remote", "add", "origin", f"git@github.com:{github.repository}.git")
    pulled = subprocess.run([*cli, "pull"], cwd=laptop, env=env, capture_output=True, text=True, timeout=60)
    assert pulled.returncode == 0, pulled.stderr
    assert f"pulled {github.repository} refs/retrain/registry at " in pulled.stdout
    runs = json.loads(subprocess.run([*cli, "runs", "--json"], cwd=laptop, env=env, capture_output=True, text=True,
                                     check=True).stdout)
    assert [r["id"] for r in runs] == [first.outputs["run-id"]]
    assert runs[0]["status"] == "completed" and runs[0]["metrics"]["score"] > 0
    endpoints = json.loads(subprocess.run([*cli, "endpoints", "tiny-retrain", "--json"], cwd=laptop, env=env,
                                          capture_output=True, text=True, check=True).stdout)
    assert endpoints["default_version"] == 1
    no_token = subprocess.run([*cli, "pull", "--repo", github.repository], cwd=laptop,
                              env={k: v for k, v in env.items() if k != "GH_TOKEN"}, capture_output=True, text=True)
    assert no_token.returncode == 2 and "set GITHUB_TOKEN or GH_TOKEN" in no_token.stderr


def test_a_write_refused_as_not_a_fast_forward_is_read_again_merged_and_retried(
        project: Path, github: FakeGitHub, tmp_path: Path) -> None:
    from retrain.backends.local import LocalBackend
    from retrain.github.api import GitHubAPI
    from retrain.github.gitdb import GitDB
    from retrain.pipeline.load import load_pipeline
    from retrain.registry import Registry

    def job_store(name: str) -> tuple[LocalBackend, Registry]:
        backend = LocalBackend(tmp_path / name / ".retrain")
        return backend, Registry(lambda: backend.store, GitDB(GitHubAPI(github.url, github.repository, github.token)),
                                 sleep=lambda s: None)

    a, ra = job_store("a")
    b, rb = job_store("b")
    ra.pull(), rb.pull()  # both read an empty registry
    pipeline = project / "pipelines" / "tiny" / "pipeline.yml"
    a.publish(load_pipeline(pipeline), endpoint="tiny-retrain", make_default=True, source_commit=None)
    set_epochs(project, 9)
    b.publish(load_pipeline(pipeline), endpoint="tiny-retrain", make_default=True, source_commit=None)
    assert ra.push().sent == 2  # the endpoint and version 1
    report = rb.push()  # b read no ref: it reads again before writing, merges, and renumbers its version
    assert report.problems == ["version 1 of tiny-retrain is 2: another job took number 1 first."]
    assert [u[2] for u in github.git.updates] == [201, 200]  # created, moved
    set_epochs(project, 11)
    a.publish(load_pipeline(pipeline), endpoint="tiny-retrain", make_default=False, source_commit=None)
    rb.push()  # nothing new from b: no request
    assert ra.push().attempts == 2  # a's head is stale now: 422 "Update is not a fast forward", then merged
    assert [u[1:] for u in github.git.updates[-2:]][0] == ("not a fast forward", 422)
    assert github.git.updates[-1][2] == 200
    ra.pull(), rb.pull()
    for backend in (a, b):
        versions = [(v.number, v.content_hash) for v in backend.endpoint("tiny-retrain").versions]
        assert [n for n, _ in versions] == [1, 2, 3] and len({h for _, h in versions}) == 3
    assert [(v.number, v.content_hash) for v in a.endpoint("tiny-retrain").versions] == \
        [(v.number, v.content_hash) for v in b.endpoint("tiny-retrain").versions]
    history = github.git.history(REF)
    assert len(history) == 3  # one commit per accepted write, each on the one before


def test_a_verdict_from_another_job_joins_the_run_whose_own_job_still_says_how_it_went(
        github: FakeGitHub, tmp_path: Path) -> None:
    from retrain.backends.local import LocalBackend
    from retrain.backends.local.store import utcnow
    from retrain.github.api import GitHubAPI
    from retrain.github.gitdb import GitDB
    from retrain.registry import Registry

    def job_store(name: str) -> tuple[LocalBackend, Registry]:
        backend = LocalBackend(tmp_path / name / ".retrain")
        return backend, Registry(lambda: backend.store, GitDB(GitHubAPI(github.url, github.repository, github.token)))

    a, ra = job_store("a")
    with a.store.write() as db:
        db.execute("INSERT INTO endpoints(name, default_version, created) VALUES ('ep', 1, ?)", (utcnow(),))
        db.execute("INSERT INTO versions(endpoint, number, content_hash, created, snapshot, parameters) "
                   "VALUES ('ep', 1, 'sha256:1', ?, 'snapshots/0123456789abcdef0123456789abcdef/p.yml', '{}')", (utcnow(),))
        db.execute("INSERT INTO runs(id, key, pipeline, endpoint, version, experiment, status, parameters, tags, created, ended, "
                   "metrics) VALUES ('p-1', 'k1', 'p', 'ep', 1, 'x', 'completed', '{}', '{\"owner\": \"a\"}', ?, ?, "
                   "'{\"auc\": 0.9}')", (utcnow(), utcnow()))
    ra.push()
    b, rb = job_store("b")
    rb.pull()
    b.tag_run("p-1", {"retrain.verdict": "promoted"})
    with b.store.write() as db:  # b's view of a's run changes too (as a repair would): that stays b's own
        db.execute("UPDATE runs SET message = 'b thinks otherwise' WHERE id = 'p-1'")
    assert rb.push().sent == 1
    [partial] = [e for e in registry_events(github) if e.get("partial")]
    assert partial["data"] == {"tags": {"owner": "a", "retrain.verdict": "promoted"}}  # only the shared field travels
    with a.store.write() as db:
        db.execute("UPDATE runs SET message = 'a says done' WHERE id = 'p-1'")
        # A default move, as the record of moves keeps them: immutable, it travels as it is.
        db.execute("INSERT INTO default_moves(id, endpoint, from_version, to_version, kind, actor, at, reason) "
                   "VALUES ('0f0f', 'ep', NULL, 1, 'publish', 'octocat', ?, 'first version')", (utcnow(),))
    ra.push()  # refused once (b wrote since), merged, sent
    rb.pull()
    [move] = b.store.all("SELECT endpoint, from_version, to_version, kind, actor, reason FROM default_moves")
    assert tuple(move) == ("ep", None, 1, "publish", "octocat", "first version")
    for backend in (a, b):
        run = backend.run("p-1")
        assert run.tags == {"owner": "a", "retrain.verdict": "promoted"}
        assert run.message == "a says done"  # the run's own job says how it went
        assert run.metrics == {"auc": 0.9}


@pytest.mark.parametrize("op", GIT_SPEC["operations"], ids=lambda op: op["operationId"])
def test_the_fake_answers_each_git_operation_in_its_documented_shape(op: dict, github: FakeGitHub) -> None:
    """Each Git database answer carries the fields the description requires (so the client is tested on them)."""
    import requests

    from retrain.github.api import GitHubAPI
    from retrain.github.gitdb import GitDB

    db = GitDB(GitHubAPI(github.url, github.repository, github.token))
    blob = db.create_blob(b"hello\n")
    assert blob == "ce013625030ba8dba906f756967f9e9ca394464a"  # Git's own id for these bytes
    from retrain.github.gitdb import TreeEntry

    tree = db.create_tree([TreeEntry("a/b.txt", "100644", "blob", blob)], None)
    commit = db.create_commit("first", tree, [])
    db.create_ref(REF, commit)
    concrete = {"/git/blobs/{x}": f"/git/blobs/{blob}", "/git/trees/{x}": f"/git/trees/{tree}",
                "/git/commits/{x}": f"/git/commits/{commit}", "/git/ref/{x}": "/git/ref/retrain/registry",
                "/git/refs/{x}": "/git/refs/retrain/registry"}
    bodies = {"create_blob": {"content": "aGk=", "encoding": "base64"},
              "create_tree": {"base_tree": tree, "tree": [{"path": "c.txt", "mode": "100644", "type": "blob", "sha": blob}]},
              "create_commit": {"message": "m", "tree": tree, "parents": [commit]},
              "create_ref": {"ref": "refs/retrain/other", "sha": commit},
              "update_ref": {"sha": commit, "force": False}}
    url = f"{github.url}/repos/{github.repository}{concrete.get(op['path'], op['path'])}"
    answer = requests.request(op["method"], url, json=bodies.get(op["handler"]), timeout=10, headers={
        "Authorization": f"Bearer {github.token}", "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"})
    assert answer.status_code == op["status"], answer.text
    assert set(op["answer_required"]) <= set(answer.json())
    assert github.violations == []


def test_the_fake_refuses_what_github_refuses(github: FakeGitHub) -> None:
    from retrain.github.api import GitHubAPI
    from retrain.github.gitdb import EmptyRepository, GitDB, NotFastForward, ReadOnly, TreeEntry

    db = GitDB(GitHubAPI(github.url, github.repository, github.token))
    assert db.ref(REF) is None  # 404: no registry yet
    blob = db.create_blob(b"x")
    first = db.create_commit("one", db.create_tree([TreeEntry("f", "100644", "blob", blob)], None), [])
    db.create_ref(REF, first)
    with pytest.raises(NotFastForward):
        db.create_ref(REF, first)  # 422 Reference already exists
    unrelated = db.create_commit("other root", db.create_tree([TreeEntry("g", "100644", "blob", blob)], None), [])
    with pytest.raises(NotFastForward, match="Update is not a fast forward"):
        db.update_ref(REF, unrelated)
    child = db.create_commit("two", db.commit_tree(first), [first])
    db.update_ref(REF, child)
    assert db.ref(REF) == child
    github.contents = "read"
    assert db.ref(REF) == child  # reading needs contents: read only
    with pytest.raises(ReadOnly, match="permissions: contents: write"):
        db.create_blob(b"y")
    github.contents, github.empty = "write", True
    with pytest.raises(EmptyRepository, match="Git Repository is empty"):
        db.ref(REF)
    assert github.violations == []


def test_the_backend_option_names_the_registry_and_a_bad_one_is_shown_at_its_line(project: Path) -> None:
    from retrain.config.load import load_config
    from retrain.errors import InvalidFile

    path = project / "retrain.yml"
    text = path.read_text()
    path.write_text(text.replace("backend: local\n", "backend:\n  kind: local\n  registry: octo-org/census\n"))
    assert load_config(path).backend.registry == "octo-org/census"  # type: ignore[union-attr]
    path.write_text(text.replace("backend: local\n", "backend:\n  kind: local\n  registry: https://github.com/octo-org\n"))
    with pytest.raises(InvalidFile) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.location is not None and problem.location.line == 3
    assert "not a GitHub repository's owner/name" in problem.message and "registry: octo-org/census" in problem.hint


def test_the_fake_holds_requests_to_the_published_shape(github: FakeGitHub) -> None:
    import requests

    headers = {"Authorization": f"Bearer {github.token}", "Accept": "application/vnd.github+json",
               "X-GitHub-Api-Version": "2022-11-28"}
    base = f"{github.url}/repos/{github.repository}/git"
    for refused in ("mode '644'", "body.force must be boolean", "body has no content"):
        github.expect_violation(refused)
    bad_mode = requests.post(f"{base}/trees", json={"tree": [{"path": "a", "mode": "644", "type": "blob", "sha": "0" * 40}]},
                             headers=headers, timeout=10)
    forced_text = requests.patch(f"{base}/refs/retrain/registry", json={"sha": "0" * 40, "force": "false"},
                                 headers=headers, timeout=10)
    no_content = requests.post(f"{base}/blobs", json={"encoding": "base64"}, headers=headers, timeout=10)
    assert [r.status_code for r in (bad_mode, forced_text, no_content)] == [422, 422, 422]
    assert github.violations == ["body.tree[0].mode '644' is not one of ['100644', '100755', '040000', '160000', '120000']",
                                 "body.force must be boolean", "body has no content"]


def test_a_stopped_job_does_not_wait_on_github_and_says_what_was_not_written(
        project: Path, github: FakeGitHub, tmp_path: Path) -> None:
    import signal
    import time


    slow_step(project)
    runner_dir = tmp_path / "runner-stop"
    runner_dir.mkdir()
    runner = Runner(project, github, runner_dir)
    proc = subprocess.Popen([sys.executable, str(ENTRYPOINT), "action"], env=runner.env("push", runner.push(["data/other.csv"])),
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(e["kind"] == "run" for e in (registry_events(github) if REF in github.git.refs else [])):
        assert time.monotonic() < deadline, "the submitted run never reached the registry"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "the job was stopped: its last records were not written to the registry refs/retrain/registry" in stdout
    [run] = [e["data"] for e in registry_events(github) if e["kind"] == "run"]
    assert run["status"] in ("queued", "running")  # as it was submitted; the cancel stayed in the runner's store


def test_an_empty_repository_is_said_and_the_work_goes_on(project: Path, github: FakeGitHub, tmp_path: Path) -> None:
    github.empty = True  # GitHub keeps no Git objects before a repository's first commit: 409
    result = job(workspace(project, tmp_path, "job1"), github, tmp_path, "job1")
    assert result.code == 0, result.stderr + result.stdout
    assert result.outputs["status"] == "success"
    [warning] = [line for line in result.stdout.splitlines() if "could not be read" in line]
    assert "Git Repository is empty." in warning and "push one, then run again" in warning
    assert github.git.refs == {}


def test_the_same_pipeline_published_by_two_jobs_at_once_is_one_version(
        project: Path, github: FakeGitHub, tmp_path: Path) -> None:
    from retrain.backends.local import LocalBackend
    from retrain.github.api import GitHubAPI
    from retrain.github.gitdb import GitDB
    from retrain.pipeline.load import load_pipeline
    from retrain.registry import Registry

    stores = []
    for name, commit in (("a", "a" * 40), ("b", "b" * 40)):
        backend = LocalBackend(tmp_path / name / ".retrain")
        registry = Registry(lambda backend=backend: backend.store, GitDB(GitHubAPI(github.url, github.repository, github.token)))
        registry.pull()
        backend.publish(load_pipeline(project / "pipelines" / "tiny" / "pipeline.yml"), endpoint="tiny-retrain",
                        make_default=True, source_commit=commit)
        stores.append((backend, registry))
    for _, registry in stores:
        assert not [p for p in registry.push().problems if "recorded twice" in p]
    for backend, registry in stores:
        registry.pull()
        [version] = backend.endpoint("tiny-retrain").versions
        assert (version.number, version.source_commit) == (1, "a" * 40)  # the first job's record stands everywhere
    assert [e["kind"] for e in registry_events(github)].count("version") == 1
