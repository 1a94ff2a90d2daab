"""Outputs that come from elsewhere: an identical earlier step reused (links to its stored outputs and
log, no run), a sweep's outputs taken from its best trial, and the pipeline's outputs linked to the steps
that wrote them."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from ...pipeline.model import Pipeline
from ..base import StepStatus
from .objects import remove_tree
from .prepare import Prepared
from .store import Store, run_dir, utcnow


class OutputLinks:
    """The Executor's reuse and output links (a mixin: it uses the run's store and folder)."""

    store: Store
    store_dir: Path
    run_id: str
    folder: Path
    force: bool

    _step: Callable[..., None]  # the Executor's: one step's row updated

    def _adopt_outputs(self, prep: Prepared, trial: Prepared) -> None:
        """A sweep's outputs are its best trial's: the same stored tree, or hard links to its files."""
        stored = trial.folder / "outputs"
        target = prep.folder / "outputs"
        prep.folder.mkdir(parents=True, exist_ok=True)
        remove_tree(target)
        if stored.is_symlink():
            tree = stored.parent / os.readlink(stored)
            target.symlink_to(os.path.relpath(tree, prep.folder), target_is_directory=True)
        elif stored.is_dir():
            import shutil  # only where a copy is made (see link_or_copy)

            shutil.copytree(stored, target, copy_function=link_or_copy)
        for name in prep.outputs:
            if not (target / name).exists() and not target.is_symlink():
                (target / name).mkdir(parents=True, exist_ok=True)

    def _try_reuse(self, prep: Prepared) -> bool:
        if prep.reuse_key is None or self.force:
            return False
        # A reused step holds its own links to the outputs, so it can be reused in turn after gc removed
        # the run that first computed them. The outputs are the step's with that key, whatever its name (a
        # step of another name, or of another version, may have done the same work); an earlier run's only,
        # as ever: within a run, identical steps each run.
        # Of those, the step of its own name first (the report then names the run alone), else the latest.
        hit = self.store.one(
            "SELECT run_id, name, metrics FROM steps WHERE reuse_key = ? AND status IN (?, ?) AND run_id != ? "
            "ORDER BY name = ? DESC, ended DESC LIMIT 1",
            prep.reuse_key, StepStatus.COMPLETED.value, StepStatus.REUSED.value, self.run_id, prep.step.name,
        )
        if hit is None:
            return False
        source = run_dir(self.store_dir, hit["run_id"]) / "steps" / hit["name"]
        if not (source / "outputs").is_dir() and prep.outputs:
            return False  # its outputs are gone (cleaned up): run the step again
        now = utcnow()
        prep.folder.mkdir(parents=True, exist_ok=True)
        try:
            stored = source / "outputs"
            if stored.is_symlink() and all((stored / name).is_dir() for name in prep.outputs):
                # The same stored folder as the earlier run (see objects.share_folder): link to it too.
                tree = stored.parent / os.readlink(stored)
                os.utime(tree)  # fresh: gc will not take it while this link is being made
                (prep.folder / "outputs").symlink_to(os.path.relpath(tree, prep.folder), target_is_directory=True)
            elif stored.is_dir():
                import shutil

                shutil.copytree(stored, prep.folder / "outputs", copy_function=link_or_copy, dirs_exist_ok=True)
        except OSError:  # gc removed the earlier run meanwhile: run the step instead
            remove_tree(prep.folder / "outputs")
            return False
        for name in prep.outputs:
            (prep.folder / "outputs" / name).mkdir(parents=True, exist_ok=True)
        if (source / "std_log.txt").exists():
            link_or_copy(str(source / "std_log.txt"), str(prep.folder / "std_log.txt"))
        # A step of another name (a renamed one) did the work: say which, or the run it names has no such step.
        origin = hit["run_id"] if hit["name"] == prep.step.name else f"{hit['run_id']}/{hit['name']}"
        self._step(prep.step.name, status=StepStatus.REUSED.value, started=now, ended=now,
                   reused_from=origin, metrics=hit["metrics"], reuse_key=prep.reuse_key)
        return True

    def _link_pipeline_outputs(self, pipeline: Pipeline, prepared: Mapping[str, Prepared]) -> None:
        """``${{parent.outputs.x}}``: the run's ``outputs/x`` points at the step output bound to it."""
        for step in pipeline.steps.values():
            for output, target in step.outputs.items():
                prep = prepared.get(step.name)
                if target and prep is not None and (prep.folder / "outputs" / output).exists():
                    link = self.folder / "outputs" / target
                    link.parent.mkdir(parents=True, exist_ok=True)
                    if not link.exists():
                        # Relative: short enough to live in the inode (no disk block), and the store can move.
                        target_path = os.path.relpath(prep.folder / "outputs" / output, link.parent)
                        link.symlink_to(target_path, target_is_directory=True)



def link_or_copy(src: str, dst: str) -> None:
    # shutil is imported where a copy is made, not with this module: stored outputs are shared by links
    # (objects.share_folder), and every submit loads this module before its first step starts.
    try:
        os.link(src, dst)
    except OSError:
        import shutil

        shutil.copy2(src, dst)
