"""Regrid the NOAA FNOC monthly surface winds (Debian ferret-datasets) to the WeatherBench 32x64 grid and write the
file shipped in the package, s2kd/data/noaa_winds_32x64.nc (float32, zlib). Run once, from the repository root:

    apt-get download ferret-datasets && dpkg -x ferret-datasets_*.deb /tmp/deb/x     # if not installed system-wide
    .venv/bin/python tools/make_winds.py --src /tmp/deb/x/usr/share/ferret-vis/data/monthly_navy_winds.cdf
"""
import argparse, re, sys
from pathlib import Path

from s2kd.data.winds import FNOC_NOTICE, FNOC_PATH, WINDS_FILE, fnoc_to_wb

ROOT = Path(__file__).resolve().parents[1]

def notice_from(copyright_file):
    "The public-domain sentence of the Ferret License Agreement in Debian's copyright file (whitespace normalised)."
    text = " ".join(Path(copyright_file).read_text().split())
    m = re.search(r"THIS SOFTWARE AND ITS DOCUMENTATION ARE IN THE PUBLIC DOMAIN.*?TECHNICAL SUPPORT TO USERS\.", text)
    if not m: sys.exit(f"{copyright_file}: the Ferret License Agreement's public-domain notice was not found")
    return m.group(0)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", default=FNOC_PATH, help="monthly_navy_winds.cdf")
    p.add_argument("--copyright", default=None, help="ferret-datasets copyright file (default: beside --src's package)")
    p.add_argument("--out", default=str(ROOT / "s2kd" / "data" / WINDS_FILE))
    a = p.parse_args(argv)
    src = Path(a.src)
    cp = Path(a.copyright) if a.copyright else src.parents[3] / "doc" / "ferret-datasets" / "copyright"
    notice = notice_from(cp) if cp.exists() else FNOC_NOTICE
    if notice != FNOC_NOTICE: print(f"note: the notice in {cp} differs from s2kd.data.winds.FNOC_NOTICE; using the file's")
    ds = fnoc_to_wb(src, notice)
    enc = {v: dict(zlib=True, complevel=9, shuffle=True, dtype="float32") for v in ds.data_vars}
    enc["time"] = dict(units="days since 1982-01-01", calendar="proleptic_gregorian")
    out = Path(a.out); tmp = out.with_suffix(".tmp.nc")
    ds.to_netcdf(tmp, engine="h5netcdf", encoding=enc); tmp.replace(out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): {dict(ds.sizes)}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
