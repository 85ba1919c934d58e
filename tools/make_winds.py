"""Rebuild s2kd/data/noaa_winds_32x64.nc from Debian's ferret-datasets (public-domain NOAA FNOC winds).

    apt-get download ferret-datasets && dpkg -x ferret-datasets_*.deb /tmp/ferret
    python tools/make_winds.py /tmp/ferret/usr/share/ferret-vis/data/monthly_navy_winds.cdf
(default path: /usr/share/ferret-vis/data/monthly_navy_winds.cdf, where `apt-get install ferret-datasets` puts it)
"""
import sys
from pathlib import Path

from s2kd.core import atomic_path
from s2kd.data.winds import FERRET_FILE, WINDS_FILE, regrid_ferret_winds

src = sys.argv[1] if len(sys.argv) > 1 else FERRET_FILE
out = Path(__file__).resolve().parents[1] / "s2kd" / "data" / WINDS_FILE
ds = regrid_ferret_winds(src)
enc = {v: {"zlib": True, "complevel": 9, "shuffle": True} for v in ds.data_vars}
with atomic_path(out) as tmp: ds.to_netcdf(tmp, engine="h5netcdf", encoding=enc)
print(f"wrote {out} ({out.stat().st_size / 2**20:.2f} MB): {dict(ds.sizes)}")
