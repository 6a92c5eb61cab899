"""Corpora as ``datasets.DatasetDict``: the one schema every converter in ``dataset_scripts/`` writes.

Each row is one clip::

    positions   (T*J, 3) float32, metres, +Y up (see eai_llm.motion): frame-major, so
                ``positions.reshape(-1, num_joints, 3)`` is the ``(T, J, 3)`` clip. Arrow stores a
                2-D array with one dynamic axis hundreds of times faster to read than nested lists.
    num_joints  int32, J
    fps         float32
    layout      str, a name in the layout registry (eai_llm.layouts)
    label       ClassLabel over the corpus's label names
    corpus, actor, action, description   str ("" when unknown)
    description_source   str: "annotated" (written by people, or by the synthetic generator from its
                latents), "kinematics" (written from the clip's measured descriptors,
                :func:`describe_kinematics`) or "" (no description)

The layouts a corpus uses are written beside it as ``layouts.json``, so a corpus read from a BVH
hierarchy stays self-describing; :func:`load_corpus` registers them again.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import Array2D, ClassLabel, Dataset, DatasetDict, Features, Value, concatenate_datasets, load_from_disk
from datasets.exceptions import DatasetGenerationError

from .claims import ALL_CORPORA, MIN_ACTION_CLIPS, Population, describe_measured, reference_population
from .descriptors import DESCRIPTORS, MIN_FPS, describe_motion
from .folders import check_replaceable, temporary_folder, write_folder
from .joint_layout import JointLayout
from .layouts import LAYOUTS, get_layout, register_layout
from .motion import Motion, MotionFileError, guess_bvh_units, read_bvh

LAYOUTS_FILE = "layouts.json"


def corpus_features(label_names: Iterable[str]) -> Features:
    return Features({
        "positions": Array2D(shape=(None, 3), dtype="float32"),
        "num_joints": Value("int32"),
        "fps": Value("float32"),
        "layout": Value("string"),
        "label": ClassLabel(names=sorted(set(label_names))),
        "corpus": Value("string"),
        "actor": Value("string"),
        "action": Value("string"),
        "description": Value("string"),
        "description_source": Value("string"),
    })


def clip_row(positions: np.ndarray, **fields) -> dict:
    """A corpus row from a ``(T, J, 3)`` clip and the other fields of the schema."""
    return {"positions": positions.reshape(-1, 3), "num_joints": positions.shape[1], **fields}


def clip_positions(row: dict) -> np.ndarray:
    """The ``(T, J, 3)`` float32 clip of a corpus row."""
    return np.asarray(row["positions"], dtype=np.float32).reshape(-1, int(row["num_joints"]), 3)


def check_label(label: str, allowed: Iterable[str] | None, source: str,
                label_map: dict[str, str] | None = None) -> str:
    """Return ``label`` lower-cased and mapped through ``label_map`` (synonyms). If ``allowed`` is
    given and the label is not in it, raise naming the file, the field and the allowed set."""
    value = label.strip().lower()
    value = (label_map or {}).get(value, value)
    if allowed is not None and value not in set(allowed):
        raise ValueError(f"{source}: field 'label' is {label!r}, expected one of {sorted(allowed)}")
    return value


@dataclass
class ClipSource:
    """One motion file to convert, and what is known about it."""

    path: Path
    label: str
    actor: str = ""
    action: str = ""
    description: str = ""


def read_labels_csv(path: str | Path) -> dict[str, dict[str, str]]:
    """Read a labels CSV with header ``file,label[,actor,action,description]``; keys are the ``file``
    column (a path relative to the input folder, or a bare file name)."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "label"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: header is {reader.fieldnames}, expected columns file,label"
                             "[,actor,action,description]")
        table, line_of = {}, {}
        for line, row in enumerate(reader, start=2):
            if not (row["file"] or "").strip() or not (row["label"] or "").strip():
                raise ValueError(f"{path}: line {line}: fields 'file' and 'label' must not be empty")
            key = row["file"].strip()
            if key in table:
                raise ValueError(f"{path}: line {line}: field 'file' is {key!r} again (first on line "
                                 f"{line_of[key]}), expected one row per file")
            line_of[key] = line
            table[key] = {k: (row.get(k) or "").strip() for k in ("label", "actor", "action", "description")}
    return table


def sources_from_labels_csv(input_dir: Path, files: list[Path], labels_csv: str | Path, allowed: Iterable[str] | None,
                            label_map: dict[str, str] | None = None) -> list[ClipSource]:
    """Match ``files`` (found under ``input_dir``) with the rows of a labels CSV, by relative path or
    file name. A CSV row without a file, a file without a row, and a bare file name shared by several
    files (``A1/take1.txt``, ``A2/take1.txt``) are errors."""
    table = read_labels_csv(labels_csv)
    files_named = Counter(path.name for path in files)
    sources, used = [], set()
    for path in files:
        key = next((k for k in (path.relative_to(input_dir).as_posix(), path.name) if k in table), None)
        if key is None:
            raise ValueError(f"{path}: no row for this file in {labels_csv} (column 'file')")
        if key == path.name and files_named[key] > 1:
            raise ValueError(f"{labels_csv}: field 'file' is {key!r}, which names {files_named[key]} files in "
                             f"{input_dir}; expected the path relative to {input_dir}, e.g. "
                             f"{path.relative_to(input_dir).as_posix()!r}")
        used.add(key)
        row = table[key]
        sources.append(ClipSource(path, check_label(row["label"], allowed, f"{labels_csv} ({key})", label_map),
                                  row["actor"], row["action"], row["description"]))
    unused = sorted(set(table) - used)
    if unused:
        raise ValueError(f"{labels_csv}: rows name files that are not in {input_dir}: {unused[:5]}"
                         + (f" and {len(unused) - 5} more" if len(unused) > 5 else ""))
    return sources


def input_files(input_dir: Path, suffixes: Iterable[str], exclude: Path | None = None) -> list[Path]:
    """The files under ``input_dir`` (recursively) whose lower-cased suffix is one of ``suffixes``
    (e.g. ``(".txt", ".csv")``), sorted, without ``exclude`` (a labels CSV kept beside them)."""
    suffixes = tuple(suffixes)
    excluded = exclude.resolve() if exclude is not None else None
    files = sorted(path for path in input_dir.rglob("*") if path.suffix.lower() in suffixes and path.is_file()
                   and path.resolve() != excluded)
    if not files:
        raise ValueError(f"--input-dir {input_dir}: no {'/'.join(suffixes)} files found")
    return files


def bvh_reader(units: str = "auto", up_axis: str = "y", layout_name: str | None = None,
               end_sites: bool = False) -> Callable[[Path], Motion]:
    """``read(path) -> Motion`` for :func:`convert_files` that reads BVH files
    (:func:`~eai_llm.motion.read_bvh`) in one length unit for the whole corpus: ``units``, or for
    ``"auto"`` the units guessed from the body height in the first file read (printed), then used for
    every file (a guess per file would differ for a clip that starts crouching or lying down)."""
    def read(path: Path) -> Motion:
        nonlocal units
        if units == "auto":
            units = guess_bvh_units(path, up_axis=up_axis, end_sites=end_sites)
            print(f"--units auto: {units}, from the body height in {path}; used for every file")
        return read_bvh(path, up_axis=up_axis, units=units, layout_name=layout_name, end_sites=end_sites)
    return read


@dataclass
class ConversionReport:
    """What :func:`convert_files` wrote: the corpus, where, in how long, and the files it skipped."""

    corpus: DatasetDict
    output_dir: Path
    seconds: float
    skipped: list[str] = field(default_factory=list)  # one error message per skipped file

    def summary(self) -> str:
        """Clips per split, corpus, layout and label, where the corpus was written, and the skipped files."""
        lines = []
        for split, data in self.corpus.items():
            meta = data.select_columns(["corpus", "layout", "label", "description"])[:]
            names = data.features["label"].names
            labels = Counter(names[i] for i in meta["label"])
            described = sum(bool(d) for d in meta["description"])
            lines += [f"{split}: {len(data)} clips; corpora {dict(Counter(meta['corpus']))}; "
                      f"layouts {dict(Counter(meta['layout']))}; with description {described}",
                      f"  labels {dict(sorted(labels.items()))}"]
        lines.append(f"wrote {self.output_dir} in {self.seconds:.1f} s")
        if self.skipped:
            lines += [f"skipped {len(self.skipped)} bad file(s):", *(f"  {message}" for message in self.skipped)]
        return "\n".join(lines)


def convert_files(sources: list[ClipSource], read: Callable[[Path], Motion], corpus_name: str,
                  label_names: Iterable[str], output_dir: str | Path, *, input_dir: str | Path | None = None,
                  split: str = "random", test_fraction: float = 0.2, seed: int = 0, skip_bad: bool = False,
                  describe: str = "", push_to_hub: str | None = None, private: bool = False) -> ConversionReport:
    """Read every source with ``read(path) -> Motion`` and write the corpus to ``output_dir``.

    A file that cannot be read, or whose skeleton differs from the one its layout name stands for (in an
    earlier file of this conversion, or in the registry), stops the run with its error and nothing is
    written, unless ``skip_bad``: then it is skipped and reported by name. ``output_dir`` must not be ``input_dir`` or a folder
    above it, and is replaced only if this project wrote it (:func:`~eai_llm.folders.write_folder`).
    ``split``/``test_fraction``/``seed``: see :func:`split_indices`; ``describe="kinematics"``: clips
    without an annotated description get one from their measured descriptors
    (:func:`describe_kinematics`); ``push_to_hub``: also push the corpus to this Hub dataset repo
    (``private`` to create it private).
    """
    if describe not in ("", "kinematics"):
        raise ValueError(f"describe is {describe!r}, expected '' or 'kinematics'")
    check_output_dir(output_dir, input_dir)
    if not sources:
        raise ValueError(f"{corpus_name}: no input files found")
    layouts: dict[str, tuple[JointLayout, Path]] = {}  # name -> (definition, first file using it)
    skipped: list[str] = []
    started = time.perf_counter()

    def rows() -> Iterator[dict]:
        for source in sources:
            try:
                motion = read(source.path)
                check_layout_name(motion.layout, source.path, layouts)
            except MotionFileError as err:
                if not skip_bad:
                    raise
                skipped.append(str(err))
                continue
            yield clip_row(motion.positions, fps=motion.fps, layout=motion.layout.name, label=source.label,
                           corpus=corpus_name, actor=source.actor, action=source.action,
                           description=source.description,
                           description_source="annotated" if source.description else "")

    corpus = build_corpus(rows, label_names, split, test_fraction, seed)
    if describe == "kinematics":
        for layout, _ in layouts.values():  # as load_corpus does, so that the descriptors can read them
            register_layout(layout)
        corpus = describe_kinematics(corpus, seed)
    save_corpus(corpus, [layout for layout, _ in layouts.values()], output_dir, push_to_hub, private)
    return ConversionReport(corpus, Path(output_dir), time.perf_counter() - started, skipped)


def split_descriptors(split: Dataset) -> np.ndarray:
    """``(N, K)`` float64: every movement descriptor (:data:`~eai_llm.descriptors.DESCRIPTORS`, in its
    order) of every clip of ``split``, NaN where a clip cannot have one (all of them for a clip below
    :data:`~eai_llm.descriptors.MIN_FPS`)."""
    rows = split.select_columns(["positions", "num_joints", "fps", "layout"]).with_format("numpy")
    matrix = np.full((len(rows), len(DESCRIPTORS)), np.nan)
    for i in range(len(rows)):
        row = rows[i]
        values = describe_motion(clip_positions(row), float(row["fps"]), get_layout(str(row["layout"])))
        matrix[i] = [values.get(name, np.nan) for name in DESCRIPTORS]
    return matrix


def population_records(split: Dataset, descriptors: np.ndarray | None = None) -> dict[str, dict]:
    """Where the movement descriptors of ``split``'s clips lie (``descriptors``: :func:`split_descriptors` of
    ``split``, computed when not given), per corpus and for all of them (:data:`~eai_llm.claims.ALL_CORPORA`),
    and within each of those per recorded action, for the descriptors measured on at least
    :data:`~eai_llm.claims.MIN_ACTION_CLIPS` of its clips: the references a claim about a clip is read against
    (:func:`eai_llm.claims.reference_population`),
    as a model saves them (``EAIConfig.descriptor_populations``):
    ``{corpus: {"layouts": [name, ...], "quantiles": {descriptor: 101 quantiles}, "actions": {action: {descriptor:
    101 quantiles}}}}``."""
    values = split_descriptors(split) if descriptors is None else descriptors
    corpora, actions = np.asarray(split["corpus"]).astype(str), np.asarray(split["action"]).astype(str)
    layouts = np.asarray(split["layout"]).astype(str)
    records = {}
    for name in [*sorted(set(corpora.tolist())), ALL_CORPORA]:
        members = np.ones(len(corpora), bool) if name == ALL_CORPORA else corpora == name
        by_action = {}
        for action in sorted(set(actions[members].tolist()) - {""}):
            chosen = members & (actions == action)
            measured = np.isfinite(values[chosen]).sum(0) >= MIN_ACTION_CLIPS  # (K,)
            if measured.any():
                kept = [descriptor for descriptor, enough in zip(DESCRIPTORS, measured) if enough]
                by_action[action] = Population.from_values(values[chosen][:, measured], kept).to_dict()
        records[name] = {"layouts": sorted(set(layouts[members].tolist())),
                         "quantiles": Population.from_values(values[members], list(DESCRIPTORS)).to_dict(),
                         "actions": by_action}
    return records


def describe_kinematics(corpus: DatasetDict, seed: int = 0) -> DatasetDict:
    """``corpus`` with a description for every clip that has no annotated one, written from its measured
    descriptors relative to the training clips of its corpus (:func:`eai_llm.claims.describe_measured`:
    its most notable qualities and its recorded action, varied wording, never the label), marked
    ``description_source="kinematics"``. Annotated descriptions are kept."""
    slow = sorted({float(f) for split in corpus.values() for f in split["fps"] if f < MIN_FPS})
    if slow:
        raise ValueError(f"describe kinematics: field 'fps' has clips at {slow} frames per second, expected at least "
                         f"{MIN_FPS:g} to measure movement descriptors")
    populations = population_records(corpus["train"])
    described = {}
    for name, split in corpus.items():
        values = split_descriptors(split)
        meta = split.select_columns(["corpus", "action", "description", "description_source"])[:]
        texts, sources = list(meta["description"]), list(meta["description_source"])
        for i, (text, corpus_name, action) in enumerate(zip(texts, meta["corpus"], meta["action"])):
            if text:
                continue
            rng = np.random.default_rng([seed, i, 7 if name == "train" else 11])
            measured = {d: v for d, v in zip(DESCRIPTORS, values[i]) if np.isfinite(v)}
            texts[i] = describe_measured(measured, reference_population(populations, corpus_name, action)[0], action,
                                         rng)
            sources[i] = "kinematics"
        split = split.remove_columns(["description", "description_source"])
        described[name] = split.add_column("description", texts).add_column("description_source", sources)
    return DatasetDict(described)


def check_layout_name(layout: JointLayout, path: Path, seen: dict[str, tuple[JointLayout, Path]]) -> None:
    """Raise if ``layout`` (read from ``path``) differs from the layout of the same name seen earlier in
    this conversion (``seen``: name -> (layout, file), updated here) or, failing that, in the registry."""
    if layout.name in seen:
        known, where = seen[layout.name][0], f"read from {seen[layout.name][1]}"
    else:
        known, where = LAYOUTS.get(layout.name), "in the registry"
    if known is not None and known != layout:
        raise MotionFileError(f"{path}: field 'layout' is {layout.name!r} with {layout.num_joints} joints, but the "
                              f"layout {layout.name!r} {where} ({known.num_joints} joints) differs in "
                              f"{known.differing_fields(layout)}; expected one skeleton per layout name")
    seen.setdefault(layout.name, (layout, path))


def split_indices(corpus: list[str], label: list[int], actor: list[str], how: str, test_fraction: float,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test row indices.

    ``how="random"``: the paper's random 4:1 split (``test_fraction=0.2``), stratified by corpus and
    label: each label of each corpus puts the floor or ceiling of its share into the test part.
    ``how="actor"``: cross-actor; per corpus, whole actors in seeded random order go to the test part
    while each brings it closer to ``test_fraction`` of the corpus's clips (the first always goes, the
    last never: every corpus keeps at least one test and one training actor).
    """
    if how not in ("random", "actor"):
        raise ValueError(f"split is {how!r}, expected 'random' or 'actor'")
    rng = np.random.default_rng(seed)
    corpus, label, actor = np.asarray(corpus), np.asarray(label), np.asarray(actor)
    test = np.zeros(len(corpus), dtype=bool)
    for name in np.unique(corpus):
        in_corpus = corpus == name
        if how == "random":
            # Systematic sampling over the corpus's rows ordered by label, then at random: every label
            # gets floor or ceil of its share, and the corpus as a whole gets round(n * test_fraction).
            rows = np.flatnonzero(in_corpus)
            rows = rows[np.lexsort((rng.random(len(rows)), label[rows]))]
            position = np.arange(len(rows))
            picked = np.floor((position + 1) * test_fraction + 0.5) - np.floor(position * test_fraction + 0.5) > 0
            test[rows[picked]] = True
        else:
            actors = np.unique(actor[in_corpus])
            if len(actors) < 2:
                raise ValueError(f"corpus {name!r}: a cross-actor split needs at least two actors, "
                                 f"field 'actor' has {actors.tolist()}")
            target, taken = test_fraction * in_corpus.sum(), 0
            for who in rng.permutation(actors)[:-1]:  # always keep one actor for training
                rows = in_corpus & (actor == who)
                if taken and abs(taken + rows.sum() - target) > abs(taken - target):
                    break
                test[rows], taken = True, taken + rows.sum()
    return np.flatnonzero(~test), np.flatnonzero(test)


def build_corpus(rows: Callable[[], Iterator[dict]], label_names: Iterable[str], split: str = "random",
                 test_fraction: float = 0.2, seed: int = 0) -> DatasetDict:
    """Build the ``train``/``test`` DatasetDict from a function that yields row dicts (schema above).

    Rows are written through Arrow to a temporary folder as they come, so the readers' clips are not
    all held at once; the returned ``train`` and ``test`` parts are held in memory, so the corpus must
    fit in RAM.
    """
    def rows_or_error() -> Iterator[dict]:
        iterator = rows()
        first = next(iterator, None)
        if first is None:
            raise ValueError("no clips to write: the input is empty or every file was skipped")
        yield first
        yield from iterator

    with temporary_folder("eai-corpus-") as cache_dir:
        try:
            full = Dataset.from_generator(rows_or_error, features=corpus_features(label_names), cache_dir=cache_dir)
        except DatasetGenerationError as err:  # re-raise the reader's own message (file, field, expected)
            raise (err.__cause__ or err) from None
        meta = full.select_columns(["corpus", "label", "actor"])[:]
        train, test = split_indices(meta["corpus"], meta["label"], meta["actor"], split, test_fraction, seed)
        if len(train) == 0 or len(test) == 0:
            raise ValueError(f"{len(full)} clips give an empty {'test' if len(train) else 'train'} part with "
                             f"--test-fraction {test_fraction}; convert more clips or change the fraction")
        # flatten_indices copies the selected rows out of the temporary cache before it is deleted.
        return DatasetDict(train=full.select(train).flatten_indices(keep_in_memory=True),
                           test=full.select(test).flatten_indices(keep_in_memory=True))


def save_corpus(corpus: DatasetDict, layouts: Iterable[JointLayout], output_dir: str | Path,
                push_to_hub: str | None = None, private: bool = False,
                extra_files: dict[str, str] | None = None) -> Path:
    """Write ``corpus`` and its ``layouts.json`` (``layouts``: one per name) to ``output_dir`` atomically
    (:func:`~eai_llm.folders.write_folder`: a failed run leaves the old corpus or nothing, and a folder
    this project did not write is never replaced), with ``extra_files`` (name → text, e.g. the synthetic
    corpus's ``oracle.json``) beside them; optionally push the corpus and its layouts to the Hub."""
    output_dir = Path(output_dir)

    def write(folder: Path):
        corpus.save_to_disk(str(folder))
        layout_dicts = [layout.to_dict() for layout in sorted(layouts, key=lambda l: l.name)]
        (folder / LAYOUTS_FILE).write_text(json.dumps(layout_dicts, indent=1))
        for name, text in (extra_files or {}).items():
            (folder / name).write_text(text)

    write_folder(output_dir, write)
    if push_to_hub:
        from huggingface_hub import HfApi

        corpus.push_to_hub(push_to_hub, private=private)
        HfApi().upload_file(path_or_fileobj=str(output_dir / LAYOUTS_FILE), path_in_repo=LAYOUTS_FILE,
                            repo_id=push_to_hub, repo_type="dataset")
    return output_dir


def check_output_dir(output_dir: str | Path, input_dir: str | Path | None = None) -> None:
    """Raise unless a corpus may be written to ``output_dir``: it must be neither ``input_dir`` nor a folder
    above it, and be new, empty or a folder this project wrote (:func:`~eai_llm.folders.check_replaceable`)."""
    output_dir = Path(output_dir)
    if input_dir is not None:
        inputs = Path(input_dir).resolve()
        if output_dir.resolve() in (inputs, *inputs.parents):
            raise ValueError(f"--output-dir {output_dir}: is --input-dir {input_dir} or a folder above it, "
                             "expected a folder outside the input (the output folder is replaced)")
    try:
        check_replaceable(output_dir)
    except FileExistsError as error:
        raise ValueError(str(error)) from None


def load_corpus(path: str | Path) -> DatasetDict:
    """Load a corpus written by :func:`save_corpus` and register the layouts it uses."""
    path = Path(path)
    layouts_file = path / LAYOUTS_FILE
    if not layouts_file.is_file():
        raise FileNotFoundError(f"{path}: no {LAYOUTS_FILE}; expected a folder written by dataset_scripts/")
    for data in json.loads(layouts_file.read_text()):
        register_layout(JointLayout.from_dict(data))
    corpus = load_from_disk(str(path))
    for name, split in corpus.items():
        for layout in set(split["layout"]):
            get_layout(layout)
        if "description_source" not in split.column_names:  # written before the column existed
            corpus[name] = split.add_column("description_source",
                                            ["annotated" if text else "" for text in split["description"]])
    return corpus


def load_corpora(paths: str | list[str]) -> DatasetDict:
    """One corpus folder, or several concatenated with their labels re-encoded over the union of
    their label names (each corpus keeps its own spellings; training merges synonyms)."""
    parts = [load_corpus(path) for path in ([paths] if isinstance(paths, str) else paths)]
    if len(parts) == 1:
        return parts[0]
    names = sorted(set().union(*(part["train"].features["label"].names for part in parts)))
    aligned = [part.align_labels_with_mapping({n: i for i, n in enumerate(names)}, "label") for part in parts]
    return DatasetDict({split: concatenate_datasets([part[split] for part in aligned]) for split in ("train", "test")})
