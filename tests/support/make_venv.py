"""Makes a virtualenv that is what `python -m venv DST` makes, without paying
for ensurepip (about 5 s of CPU per venv here): the venv is made without pip,
then the packages ensurepip put into TEMPLATE (a venv made once with
`python -m venv`) are copied in, pip's console scripts are written with DST's
interpreter, and their RECORD lines get the new hashes.

usage: python3 -I make_venv.py TEMPLATE DST [--system-site-packages]
"""
import base64
import hashlib
import os
import shutil
import sys
import venv

template, dst = sys.argv[1], sys.argv[2]
args = ["--without-pip", dst] + sys.argv[3:]
venv.main(args)

tag = "python%d.%d" % sys.version_info[:2]
src_site = os.path.join(template, "lib", tag, "site-packages")
dst_site = os.path.join(dst, "lib", tag, "site-packages")
for name in os.listdir(src_site):
    s, d = os.path.join(src_site, name), os.path.join(dst_site, name)
    if os.path.isdir(s) and not os.path.islink(s):
        shutil.copytree(s, d, symlinks=True)
    else:
        shutil.copy2(s, d, follow_symlinks=False)

records = {}
for name in os.listdir(os.path.join(template, "bin")):
    s = os.path.join(template, "bin", name)
    if os.path.islink(s) or name.startswith(("python", "activate", "Activate")):
        continue
    with open(s, "rb") as f:
        data = f.read()
    if not data.startswith(b"#!"):
        continue
    # The template may have been made elsewhere and renamed: the shebang
    # names the venv's interpreter, which is now DST's.
    first, rest = data.split(b"\n", 1)
    interpreter = os.path.basename(first[2:].strip().decode())
    shebang = "#!%s\n" % os.path.join(dst, "bin", interpreter)
    if not interpreter.startswith("python") or len(shebang) > 127:
        sys.exit("make_venv.py: cannot rewrite %s's shebang for %s" % (name, dst))
    data = shebang.encode() + rest
    d = os.path.join(dst, "bin", name)
    with open(d, "wb") as f:
        f.write(data)
    os.chmod(d, 0o755)
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    records["../../../bin/" + name] = "sha256=%s,%d" % (digest.decode(), len(data))

for name in os.listdir(dst_site):
    record = os.path.join(dst_site, name, "RECORD")
    if not name.endswith(".dist-info") or not os.path.isfile(record):
        continue
    # pip writes RECORD through csv (CRLF line ends): keep each line's end.
    with open(record, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    out = []
    for line in lines:
        path = line.split(b",", 1)[0].decode()
        if path in records:
            end = line[len(line.rstrip(b"\r\n")):]
            line = (path + "," + records[path]).encode() + end
        out.append(line)
    with open(record, "wb") as f:
        f.write(b"".join(out))

# pyvenv.cfg says how the venv was made: as `python -m venv DST` would.
cfg = os.path.join(dst, "pyvenv.cfg")
with open(cfg, encoding="utf-8") as f:
    text = f.read()
with open(cfg, "w", encoding="utf-8") as f:
    f.write(text.replace(" -m venv --without-pip ", " -m venv ", 1))
