"""A config that sets an option its method never reads warns (`s2kd.train.config.warn_unread`, table
`s2kd.distill.METHOD_READS`); the project's own configs — every run the paper notebooks build, every stored result — never do."""
import ast, json, os, warnings
from dataclasses import fields
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import pytest

import s2kd.paper as P
from s2kd.distill import METHOD_OPTIONS, METHOD_READS, METHODS, method_reads
from s2kd.train.config import TEACHER_FIELDS, TEXT_FIELDS, RunConfig, unread_options

ROOT = Path(__file__).resolve().parents[1]


def test_kd_with_a_feature_weight_warns_by_name():
    "The issue's case: KD never reads w_kd_feat, and the two configs get one run name."
    with pytest.warns(UserWarning, match=r"method 'kd' does not read w_kd_feat=5.0 \(default 1.0\); it reads w_kd_out\b"):
        cfg = RunConfig(method="kd", w_kd_feat=5.0)
    assert cfg.w_kd_feat == 5.0 and cfg.run_name == RunConfig(method="kd").run_name  # exact: the value given, stored; kept: a warning, not a change
    with pytest.warns(UserWarning, match=r"method 'camkd' does not read ab_margin=2.0 .*; it reads mkd_loss, w_kd_out\b"):
        RunConfig(method="camkd", teacher="simvp,alternet", ab_margin=2.0)
    with pytest.warns(UserWarning, match=r"method 'aver' does not read aekd_solver='pg'"):
        RunConfig.from_dict(dict(method="aver", teacher="simvp,alternet", aekd_solver="pg"))


ALT = dict(w_kd_out=2.0, w_kd_feat=2.0, w_spectral=0.1, w_semantic=0.0, w_low=0.2, sdkd_cutoff=0.5, sdkd_mask="gaussian",
           sdkd_kind="3d", fitnet_hint_epochs=3, aekd_solver="pg", aekd_cap=0.75, ab_margin=2.0)  # a non-default value of each


def test_options_a_method_reads_do_not_warn():
    "Each method with every option it reads set away from its default: no warning."
    cases = [(m, c) for m in METHODS for c in ([dict(fitnet_stages=1), dict(fitnet_stages=2)] if m == "fitnet" else
                                               [dict(sdkd_branch=False), dict(sdkd_branch=True)] if m == "sdkd" else
                                               [dict(mkd_loss="mse"), dict(mkd_loss="ab")] if m in ("aver", "aekd", "camkd") else [{}])]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        for m, c in cases:
            teacher = ("multimodal" if m == "s2kd" else "simvp,alternet" if m in ("aver", "aekd", "camkd") else "alternet")
            reads = method_reads(m, **c)
            cfg = RunConfig(method=m, teacher=teacher, **c, **{k: ALT[k] for k in reads if k not in c})
            assert unread_options(cfg) == {} and all(getattr(cfg, k) == ALT[k] for k in reads if k in ALT), (m, c)
            rest = {k: v for k, v in ALT.items() if k not in reads}
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                other = cfg.replace(**rest)  # every option it does not read: each is named
            assert set(unread_options(other)) == set(rest) and len(w) == 1, (m, c, rest, [str(x.message) for x in w])
            assert all(f"{k}={v!r}" in str(w[0].message) for k, v in rest.items())


def test_method_options_are_the_teacher_fields_that_are_not_teacher_or_text():
    "`METHOD_READS` covers every distillation option of `TEACHER_FIELDS`, and only those."
    rest = set(TEACHER_FIELDS) - set(TEXT_FIELDS) - {"teacher", "teacher_preset", "teacher_epochs", "teacher_seed", "teacher_cache"}
    assert set(METHOD_OPTIONS) == rest and set(METHOD_READS) == set(METHODS)


def _notebook_rows(name: str, **names) -> dict:
    "The `ROWS = {...}` table of paper notebook `name`, evaluated with its free `names` (e.g. single_method)."
    nb = json.loads((ROOT/"nbs"/f"{name}.ipynb").read_text())
    for c in nb["cells"]:
        if c["cell_type"] != "code": continue
        for st in ast.parse("".join(l for l in "".join(c["source"]).splitlines(True) if not l.lstrip().startswith(("%", "!"))) or "\n").body:
            if isinstance(st, ast.Assign) and [getattr(t, "id", None) for t in st.targets] == ["ROWS"]:
                return eval(compile(ast.Expression(st.value), name, "eval"), {"dict": dict}, names)
    raise AssertionError(f"{name}: no ROWS table")


def _paper_runs(preset: str, overrides: dict | None = None) -> list:
    "Every RunConfig the paper notebooks build at `preset`, through the notebooks' own functions (nothing trained or read)."
    from s2kd.narrate.core import NARRATORS
    built, kw = [], dict(preset=preset, overrides=overrides, log=None)
    for _, ds, t in P.S2KD_TABLES.values():  # table1_weather, table2_traffic, table3_ood; ablation; qualitative
        built += P.s2kd_table_runs(ds, t, **kw)
        built += P.s2kd_table_runs(ds, t, students=("unet",), variants=P.ABLATION, **kw)
    for d in ("plume", "traffic", "winds"):  # lmm_comparison
        rows = _notebook_rows("lmm_comparison", nars=sorted(set(NARRATORS) - {"vlm"}))
        built += P.s2kd_table_runs(d, P.PAPER_TEACHERS[d], students=("unet",), variants=rows, artefact="lmm_comparison", **kw)
    for single in ("sdkd", "kd"):  # sdkd_tables, both single-teacher methods
        rows = _notebook_rows("sdkd_tables", single_method=single)
        for d in ("navier_stokes", "convection", "traffic", "winds"):
            built += P.s2kd_table_runs(d, "alternet", students=("unet", "resnet"), variants=rows, artefact="sdkd_tables", **kw)
    built += P.s2kd_table_runs("navier_stokes", "alternet", students=("unet",), methods=("baseline", "sdkd"), artefact="spectral", **kw)
    for d, t in P.PAPER_TEACHERS.items():  # skill: the teachers (paper_teacher's configs) and the baselines
        for mm in (False, True):
            built.append(P.s2kd_config(d, t, P.S2KD_STUDENTS[0], "s2kd" if mm else "kd", 42, preset=preset, overrides=overrides))
    base = RunConfig(**P.preset_config(preset, "skill", method="baseline", **(overrides or {})))
    spectral = RunConfig(**P.preset_config(preset, "spectral", dataset="navier_stokes", teacher="alternet", student="unet") | (overrides or {}))
    return built + [base] + [spectral.replace(method=m) for m in ("baseline", "sdkd")]


@pytest.mark.parametrize("preset", ["smoke", "quick"])
def test_paper_configs_do_not_warn(preset, monkeypatch, tmp_path):
    "Every config the paper notebooks build sets only options its method reads; one that sets another is caught here."
    monkeypatch.setenv("S2KD_CACHE", str(tmp_path))
    monkeypatch.setattr(P, "_stored", lambda cfg, dkeys: dict(config=cfg))  # as if every run were stored: nothing trains
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        cfgs = [r["config"] if isinstance(r, dict) else r for r in _paper_runs(preset)]
    methods = {(c.method, c.mkd_loss) for c in cfgs}
    assert {("aekd", "ab"), ("aekd", "mse"), ("camkd", "mse"), ("sdkd", "mse"), ("fitnet", "mse"), ("s2kd", "mse")} <= methods, methods
    assert len(cfgs) > 300 and all(unread_options(c) == {} for c in cfgs)
    assert any(c.w_semantic == 0.0 for c in cfgs) and any(c.w_spectral == 0.0 for c in cfgs)  # exact: stored constants; the ablation's rows are in
    with warnings.catch_warnings(), pytest.raises(UserWarning, match="method 'baseline' does not read w_kd_feat=5.0"):
        warnings.simplefilter("error", UserWarning)  # the same runs with an option set for every method: the harness sees it
        _paper_runs(preset, overrides=dict(w_kd_feat=5.0))


def test_stored_results_do_not_warn():
    "Every config in the committed results loads without the warning (labelled copies carry the method as `run_method`)."
    names, n = {f.name for f in fields(RunConfig)}, 0
    def configs(o):
        if isinstance(o, dict):
            if "method" in o and "w_kd_feat" in o: yield o
            for v in o.values(): yield from configs(v)
        elif isinstance(o, list):
            for v in o: yield from configs(v)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        for f in sorted((ROOT/"results").rglob("*.json")):
            for c in configs(json.loads(f.read_text())):
                d = {k: v for k, v in c.items() if k in names} | ({"method": c["run_method"]} if "run_method" in c else {})
                RunConfig.from_dict(d); n += 1
    assert n > 50, n
