"Bad input gets a clear error naming what is wrong and where (data layer core)."
import json
import numpy as np
import pytest
import torch

from s2kd.core import DataError
from s2kd.data.core import WindowDataset, load_windows, split_dataset, toy_dataset, validate_dataset
from s2kd.data.embedded import EMBEDDED, load_dataset


def test_wrong_dims_named():
    ds = toy_dataset().transpose("member", "time", "x", "y")
    with pytest.raises(DataError, match=r"variable 'u' has dims \('member', 'time', 'x', 'y'\)"):
        validate_dataset(ds, "f.nc")


def test_wrong_rank_named():
    ds = toy_dataset().isel(member=0)
    with pytest.raises(DataError, match="f.nc: variable 'u'"):
        validate_dataset(ds, "f.nc")


@pytest.mark.parametrize("bad, says", [(np.nan, "has 1 NaN value in cells that hold data at other times"),
                                       (np.inf, "has 1 infinite values"), (-np.inf, "has 1 infinite values")])
def test_nonfinite_named(bad, says):
    "Which dataset, which variable, how many and the first place: member, time and cell."
    ds = toy_dataset(); ds["v"].values[1, 2, 0, 0] = bad
    with pytest.raises(DataError, match=rf"mine: variable 'v' {says} \(first: member 1, time 2000-01-03T00:00:00, y=0, x=0\)"):
        WindowDataset(ds, 2, 2, name="mine")


def test_events_on_a_lat_lon_grid_without_a_domain_warn():
    "Events on a lat/lon grid could be storms or a city's incidents: the narrators would name city districts, so say so."
    ev = json.dumps([dict(kind="storm", time="2000-01-04", y=1, x=2, duration=2)])
    geo = toy_dataset(geo=True).assign_attrs(events=ev); geo.attrs.pop("domain", None)  # a file that does not say
    with pytest.warns(UserWarning, match=r"events on a lat/lon grid and no attrs\['domain'\]"):
        assert WindowDataset(geo, 2, 2).info(0)["domain"] == "traffic"       # as before, now said
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                      # told, or a y/x grid: no warning
        assert WindowDataset(geo.assign_attrs(domain="weather"), 2, 2).info(0)["domain"] == "weather"
        flat = toy_dataset().assign_attrs(events=ev); flat.attrs.pop("domain", None)
        assert WindowDataset(flat, 2, 2).info(0)["domain"] == "traffic"


def test_short_series():
    with pytest.raises(DataError, match="series of 12 time steps is shorter than T_in\\+T_out = 10\\+10"):
        WindowDataset(toy_dataset(), 10, 10)


def test_unknown_dataset_name():
    with pytest.raises(DataError, match="unknown dataset 'weatherbench'.*embedded datasets are"):
        load_windows("weatherbench")


def test_unknown_split_kind_and_param():
    ds = toy_dataset()
    with pytest.raises(DataError, match="unknown kind 'random'"):
        split_dataset(ds, {"kind": "random"})
    with pytest.raises(DataError, match="parameter 'heat_release' is not a coordinate"):
        split_dataset(ds, {"kind": "param", "param": "heat_release", "train": [1], "val": [1], "test": [2]})


def test_param_split_is_out_of_distribution():
    ds = toy_dataset(n_member=4).assign_coords(heat_release=("member", [1., 2., 1., 3.]))
    sp = split_dataset(ds, {"kind": "param", "param": "heat_release", "train": [1., 2.], "val": [1.], "test": [3.],
                            "members": {"train": [0, 1], "val": [2]}})  # seen rate 1.0: train and val take disjoint members
    assert set(sp["test"].heat_release.values) == {3.}
    assert not set(sp["train"].heat_release.values) & set(sp["test"].heat_release.values)


def test_normalizer_uses_train_only():
    ds = toy_dataset(n_time=30)
    ds["u"].values[:, 20:] += 100.0  # shift the val/test period only
    w = load_windows(ds, 3, 2)
    assert abs(w.normalizer.mean[0]) < 1.0  # fitted on train, blind to the shift
    x, _ = w.test.frames(0)
    assert x[:, 0].mean() > 50  # frames come back in physical units


def test_corrupt_cache_file_is_regenerated(cache, monkeypatch):
    import s2kd.data.embedded as emb, sys, types
    mod = types.ModuleType("_gen_toy"); mod.make = lambda size, seed, device: toy_dataset(seed=seed)
    monkeypatch.setitem(sys.modules, "_gen_toy", mod); monkeypatch.setitem(emb.EMBEDDED, "toy", "_gen_toy:make")
    a = load_dataset("toy")
    f = next((cache / "data").glob("toy-*.nc"))
    f.write_bytes(b"not a netcdf file")
    with pytest.warns(UserWarning, match="unreadable cached dataset"):
        b = load_dataset("toy")
    np.testing.assert_array_equal(a["u"].values, b["u"].values)
    np.testing.assert_array_equal(load_dataset("toy")["u"].values, a["u"].values)  # the rebuilt file reads back


def test_cache_file_of_another_generator_version_is_regenerated(cache, monkeypatch):
    "A changed generator (e.g. an edited size preset) never serves the old file under the old name."
    import s2kd.data.embedded as emb, sys, types
    mod = types.ModuleType("_gen_toy2"); mod.make = lambda size, seed, device: toy_dataset(seed=seed)
    monkeypatch.setitem(sys.modules, "_gen_toy2", mod); monkeypatch.setitem(emb.EMBEDDED, "toy2", "_gen_toy2:make")
    a = load_dataset("toy2")
    assert a.attrs["generator_version"] == "no-source"
    mod.make = lambda size, seed, device: toy_dataset(seed=seed + 1)  # the generator changes ...
    monkeypatch.setattr(emb, "generator_version", lambda name: "v2")   # ... and so does its source hash
    with pytest.warns(UserWarning, match="another version of its generator"):
        b = load_dataset("toy2")
    assert not np.array_equal(a["u"].values, b["u"].values) and b.attrs["generator_version"] == "v2"
    np.testing.assert_array_equal(load_dataset("toy2")["u"].values, b["u"].values)  # read back, not made a third time


def test_generator_version_hashes_the_generator_source():
    from s2kd.data.embedded import generator_version
    v = generator_version("plume")
    assert len(v) == 12 and v == generator_version("convection")  # one module, one version
    assert v != generator_version("traffic")


@pytest.mark.parametrize("name", sorted(EMBEDDED))
def test_embedded_datasets_hold_no_fill_sentinel(cache, name):
    "The fill-value check refuses none of the embedded datasets (traffic holds counts: 0 and up, never a negative sentinel)."
    from s2kd.data.core import _fill_candidates
    ds = load_dataset(name, size="tiny")  # validated as it loads: a refused sentinel raises here
    assert not any(_fill_candidates(ds[v].values) for v in ds.data_vars)
