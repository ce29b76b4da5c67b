#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""forgetfs: a FUSE file system that forgets what POSIX lets a power cut forget.

    forgetfs.py BACKING MOUNTPOINT CONTROL_SOCKET

It passes every call through to the directory BACKING and keeps, per inode,
what would survive a power cut:

  - a file: its data and mode (and owner) as of its last fsync or fdatasync;
  - a directory: its entries (create, mknod, mkdir, link, symlink, unlink,
    rmdir and rename are volatile until then) and mode as of its last fsync;
  - a rename inside one directory is one operation of that directory (atomic);
    across directories it is a removal in one and an addition in the other.

What is in BACKING when it mounts, and after a "sync" command, is durable.

A cut replaces BACKING with what survives: in mode "strict" exactly the
durable state; in mode "reorder" each file and each directory keeps a random
prefix of its operations since its last fsync (chosen independently, so
objects are reordered against each other). After a cut everything is durable
again, as after a reboot, and open files from before it fail with EIO.

A hold stops the Nth state-changing operation of one process (counted from
the hold command) before it takes effect, so a cut lands exactly before it.
State-changing operations: create, mknod, mkdir, link, symlink, unlink,
rmdir, rename, write, truncate, chmod, chown, utimens, fsync, fsyncdir. A
held operation released after a cut fails with EIO, having done nothing.

Control: JSON lines over the Unix stream socket CONTROL_SOCKET; each command
gets one reply line, {"ok": true, ...} or {"ok": false, "error": ...}:

  {"cmd": "sync"}                    everything live becomes durable
  {"cmd": "hold", "pid": P, "n": N}  hold P's Nth state-changing operation from now
  {"cmd": "hold", "pid": P, "n": N, "op": NAME}   ... its Nth operation NAME
  {"cmd": "wait_held", "timeout": S} -> {"held": {"pid", "op", "path"}} or {"held": null}
  {"cmd": "release"}                 let the held operation go (EIO after a cut)
  {"cmd": "cut", "mode": "strict"|"reorder", "seed": N, "kill": [PID, ...]}
                                     -> {"survived": [...], "lost": [...]} operations;
                                     what the processes in kill (the power cut
                                     stops them) still send fails with EIO
  {"cmd": "ops", "pid": P}           -> {"ops": [[op, path], ...]} of P since its last
                                        hold or ops command (then forgotten)
  {"cmd": "plant", "path": P, "data": HEX, "mode": M}
                                     create file P as another process would, past
                                     libfuse's path locks (a held operation keeps them)
  {"cmd": "stats"}                   -> counts of operations, cuts, held

Runs as root, with default_permissions and allow_other: the kernel checks
access, and files are created with the caller's uid and gid.
"""

import errno
import json
import os
import random
import shutil
import socket
import stat
import sys
import threading

from fusepy import FUSE, FuseOSError, Operations, fuse_get_context


class Inode:
    """One object of the model. For a file, durable data and pending writes;
    for a directory, durable and live entries (name -> Inode) and pending
    entry operations; meta is (mode, uid, gid)."""

    def __init__(self, kind, meta, data=b"", entries=None, target=None):
        self.kind = kind  # "f", "d" or "l"
        self.data = data  # a file's durable bytes
        self.target = target  # a symlink's
        self.meta = meta  # durable (mode, uid, gid)
        self.entries = dict(entries or {})  # a directory's durable entries
        self.live = dict(entries or {})  # a directory's live entries
        self.pending = []  # operations since the last fsync, oldest first

    def durable_now(self, data, meta):
        self.data, self.meta, self.pending = data, meta, []


def meta_of(st):
    return (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)


def apply_file(data, meta, op):
    """A file's state after one pending operation."""
    kind = op[0]
    if kind == "write":
        off, buf = op[1], op[2]
        if len(data) < off:
            data += b"\0" * (off - len(data))
        return data[:off] + buf + data[off + len(buf):], meta
    if kind == "truncate":
        n = op[1]
        return (data[:n] if len(data) >= n else data + b"\0" * (n - len(data))), meta
    if kind == "chmod":
        return data, (op[1], meta[1], meta[2])
    if kind == "chown":
        return data, (meta[0], op[1] if op[1] != -1 else meta[1], op[2] if op[2] != -1 else meta[2])
    return data, meta


def apply_dir(entries, meta, op):
    """A directory's entries after one pending operation."""
    kind = op[0]
    if kind == "add":
        entries[op[1]] = op[2]
    elif kind == "del":
        entries.pop(op[1], None)
    elif kind == "rename":
        node = entries.pop(op[1], None)
        if node is not None:
            entries[op[2]] = node
    elif kind == "chmod":
        meta = (op[1], meta[1], meta[2])
    elif kind == "chown":
        meta = (meta[0], op[1] if op[1] != -1 else meta[1], op[2] if op[2] != -1 else meta[2])
    return entries, meta


class ForgetFS(Operations):
    use_ns = True

    def __init__(self, backing):
        self.backing = os.path.realpath(backing)
        self.mutex = threading.Condition()
        self.gen = 0
        self.fhs = {}  # fh -> (fd, Inode, generation)
        self.next_fh = 1
        self.counts = {}  # pid -> state-changing operations since its hold
        self.oplog = {}  # pid -> [(op, path)]
        self.hold_at = None  # [pid, operations to go, name or None]
        self.held = None
        self.dead = set()  # processes a cut killed: what they still send fails
        self.stats = {"ops": 0, "cuts": 0, "held": 0}
        self.root = self.scan(self.backing)

    # --- the model ------------------------------------------------------------------------

    def scan(self, path):
        """Everything under path as durable Inodes; rebuilds the ino map."""
        self.by_ino = {}
        return self._scan(path)

    def _scan(self, path):
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode):
            node = Inode("d", meta_of(st))
            for name in sorted(os.listdir(path)):
                node.entries[name] = self._scan(os.path.join(path, name))
            node.live = dict(node.entries)
        elif stat.S_ISLNK(st.st_mode):
            node = Inode("l", meta_of(st), target=os.readlink(path))
        elif stat.S_ISREG(st.st_mode):
            node = self.by_ino.get(st.st_ino)
            if node:
                return node  # a second name
            with open(path, "rb") as f:
                node = Inode("f", meta_of(st), data=f.read())
        else:
            raise OSError(errno.EINVAL, "forgetfs keeps regular files, directories and "
                          "symlinks only: %s" % path)
        self.by_ino[st.st_ino] = node
        return node

    def sync_all(self):
        for node in self.walk_live():
            if node.kind == "f":
                path = self.path_of(node)
                if path is None:
                    node.pending = []
                    continue
                with open(path, "rb") as f:
                    node.durable_now(f.read(), meta_of(os.lstat(path)))
            elif node.kind == "d":
                node.entries = dict(node.live)
                node.meta = meta_of(os.lstat(self.path_of(node)))
                node.pending = []

    def walk_live(self):
        seen, todo = set(), [self.root]
        while todo:
            node = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            yield node
            if node.kind == "d":
                todo.extend(node.live.values())

    def path_of(self, node):
        """A live backing path of node, or None."""
        if node is self.root:
            return self.backing
        todo = [(self.root, self.backing)]
        while todo:
            d, p = todo.pop()
            for name, child in d.live.items():
                q = os.path.join(p, name)
                if child is node:
                    return q
                if child.kind == "d":
                    todo.append((child, q))
        return None

    def survivor(self, node, mode, rng, memo):
        """What of node a cut keeps, computed once per node: (data, meta) of a file,
        (entries, meta) of a directory, (target, meta) of a symlink."""
        if id(node) in memo:
            return memo[id(node)]
        k = 0 if mode == "strict" else rng.randint(0, len(node.pending))
        kept, lost = node.pending[:k], node.pending[k:]
        if node.kind == "f":
            data, meta = node.data, node.meta
            for op in kept:
                data, meta = apply_file(data, meta, op)
            out = (data, meta)
        elif node.kind == "d":
            entries, meta = dict(node.entries), node.meta
            for op in kept:
                entries, meta = apply_dir(entries, meta, op)
            out = (entries, meta)
        else:
            out = (node.target, node.meta)
        memo[id(node)] = out
        self.cut_report["survived"] += [describe(node, op) for op in kept]
        self.cut_report["lost"] += [describe(node, op) for op in lost]
        return out

    def cut(self, mode, seed):
        rng = random.Random(seed)
        memo = {}
        self.cut_report = {"survived": [], "lost": []}
        # Every object the model knows gets its survivor computed, so that lost
        # operations of unreachable objects are reported too.
        for node in list(self.all_nodes()):
            self.survivor(node, mode, rng, memo)
        for name in os.listdir(self.backing):
            p = os.path.join(self.backing, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
        made = {}  # id(Inode) -> backing path, for hard links
        placed = set()  # directories already placed: a reordered cross-directory
        # rename may leave one in two places; it keeps the first (in name order)

        def build(node, path):
            entries, meta = memo[id(node)]
            for name in sorted(entries):
                child = entries[name]
                q = os.path.join(path, name)
                if child.kind == "f":
                    if id(child) in made:
                        os.link(made[id(child)], q)
                        continue
                    data, cmeta = memo[id(child)]
                    fd = os.open(q, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    os.write(fd, data)
                    os.fchown(fd, cmeta[1], cmeta[2])
                    os.fchmod(fd, cmeta[0])
                    os.close(fd)
                    made[id(child)] = q
                elif child.kind == "l":
                    target, cmeta = memo[id(child)]
                    os.symlink(target, q)
                    os.lchown(q, cmeta[1], cmeta[2])
                elif id(child) not in placed:
                    placed.add(id(child))
                    os.mkdir(q, 0o700)
                    build(child, q)
            os.chown(path, meta[1], meta[2])
            os.chmod(path, meta[0])

        placed.add(id(self.root))
        build(self.root, self.backing)
        self.root = self.scan(self.backing)
        self.gen += 1
        self.stats["cuts"] += 1
        return self.cut_report

    def all_nodes(self):
        seen, todo = set(), [self.root]
        while todo:
            node = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            yield node
            if node.kind == "d":
                todo.extend(node.live.values())
                todo.extend(node.entries.values())
                for op in node.pending:
                    if op[0] == "add":
                        todo.append(op[2])
        for fd, node, gen in list(self.fhs.values()):
            if id(node) not in seen and gen == self.gen:
                seen.add(id(node))
                yield node

    # --- holds and bookkeeping ------------------------------------------------------------

    def change(self, op, path):
        """Called with the lock held before a state-changing operation takes effect."""
        pid = fuse_get_context()[2]
        if pid in self.dead:
            raise FuseOSError(errno.EIO)
        gen = self.gen
        self.stats["ops"] += 1
        self.counts[pid] = self.counts.get(pid, 0) + 1
        self.oplog.setdefault(pid, []).append((op, path))
        if self.hold_at and self.hold_at[0] == pid and self.hold_at[2] in (None, op):
            self.hold_at[1] -= 1
        if self.hold_at and self.hold_at[0] == pid and self.hold_at[1] == 0:
            self.hold_at = None
            self.held = {"pid": pid, "op": op, "path": path}
            self.stats["held"] += 1
            self.mutex.notify_all()
            while self.held is not None:
                self.mutex.wait()
            if self.gen != gen:
                raise FuseOSError(errno.EIO)

    def bpath(self, path):
        return os.path.join(self.backing, path.lstrip("/"))

    def node_at(self, path):
        """The live Inode of a FUSE path, or None."""
        node = self.root
        for part in [p for p in path.split("/") if p]:
            if node.kind != "d" or part not in node.live:
                return None
            node = node.live[part]
        return node

    def parent(self, path):
        head, name = os.path.split(path.rstrip("/"))
        return self.node_at(head or "/"), name

    def fd_of(self, fh):
        fd, node, gen = self.fhs.get(fh, (None, None, None))
        if fd is None or gen != self.gen:
            raise FuseOSError(errno.EIO)
        return fd, node

    def new_fh(self, fd, node):
        fh = self.next_fh
        self.next_fh += 1
        self.fhs[fh] = (fd, node, self.gen)
        return fh

    def as_caller(self, path, follow=False):
        """Gives what the caller just made the caller's uid and gid."""
        uid, gid, _ = fuse_get_context()
        os.chown(path, uid, gid, follow_symlinks=follow)

    def dir_op(self, d, op):
        d.pending.append(op)
        if op[0] == "add":
            d.live[op[1]] = op[2]
        elif op[0] == "del":
            d.live.pop(op[1], None)
        elif op[0] == "rename":
            d.live[op[2]] = d.live.pop(op[1])

    # --- FUSE operations: reading ---------------------------------------------------------

    def getattr(self, path, fh=None):
        with self.mutex:
            if fh is not None and fh in self.fhs:
                st = os.fstat(self.fd_of(fh)[0])
            else:
                st = os.lstat(self.bpath(path))
        return {k: getattr(st, k) for k in ("st_mode", "st_ino", "st_nlink", "st_uid", "st_gid",
                                            "st_size", "st_atime", "st_mtime", "st_ctime",
                                            "st_blocks", "st_blksize")}

    def readdir(self, path, fh):
        with self.mutex:
            return [".", ".."] + os.listdir(self.bpath(path))

    def readlink(self, path):
        return os.readlink(self.bpath(path))

    def statfs(self, path):
        sv = os.statvfs(self.backing)
        return {k: getattr(sv, k) for k in ("f_bsize", "f_frsize", "f_blocks", "f_bfree",
                                            "f_bavail", "f_files", "f_ffree", "f_favail",
                                            "f_flag", "f_namemax")}

    def open(self, path, flags):
        with self.mutex:
            node = self.node_at(path)
            if node is None or node.kind != "f":
                raise FuseOSError(errno.ENOENT)
            return self.new_fh(os.open(self.bpath(path), os.O_RDWR | os.O_NOFOLLOW), node)

    def read(self, path, size, offset, fh):
        with self.mutex:
            return os.pread(self.fd_of(fh)[0], size, offset)

    def release(self, path, fh):
        with self.mutex:
            fd, _, _ = self.fhs.pop(fh, (None, None, None))
            if fd is not None:
                os.close(fd)

    def flush(self, path, fh):
        return 0

    def opendir(self, path):
        return 0

    def releasedir(self, path, fh):
        return 0

    def access(self, path, amode):
        return 0

    # --- FUSE operations: changing state --------------------------------------------------

    def create(self, path, mode, fi=None):
        with self.mutex:
            self.change("create", path)
            d, name = self.parent(path)
            p = self.bpath(path)
            fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, stat.S_IMODE(mode))
            self.as_caller(p)
            st = os.fstat(fd)
            node = Inode("f", meta_of(st))
            self.by_ino[st.st_ino] = node
            self.dir_op(d, ("add", name, node))
            return self.new_fh(fd, node)

    def mknod(self, path, mode, dev):
        if not stat.S_ISREG(mode):
            raise FuseOSError(errno.EPERM)
        with self.mutex:
            self.change("mknod", path)
            d, name = self.parent(path)
            p = self.bpath(path)
            os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IMODE(mode)))
            self.as_caller(p)
            node = Inode("f", meta_of(os.lstat(p)))
            self.dir_op(d, ("add", name, node))

    def mkdir(self, path, mode):
        with self.mutex:
            self.change("mkdir", path)
            d, name = self.parent(path)
            p = self.bpath(path)
            os.mkdir(p, stat.S_IMODE(mode))
            self.as_caller(p)
            self.dir_op(d, ("add", name, Inode("d", meta_of(os.lstat(p)))))

    def symlink(self, target, source):
        with self.mutex:
            self.change("symlink", target)
            d, name = self.parent(target)
            p = self.bpath(target)
            os.symlink(source, p)
            self.as_caller(p)
            self.dir_op(d, ("add", name, Inode("l", meta_of(os.lstat(p)), target=source)))

    def link(self, target, source):
        with self.mutex:
            self.change("link", target)
            d, name = self.parent(target)
            node = self.node_at(source)
            os.link(self.bpath(source), self.bpath(target))
            self.dir_op(d, ("add", name, node))

    def unlink(self, path):
        with self.mutex:
            self.change("unlink", path)
            d, name = self.parent(path)
            os.unlink(self.bpath(path))
            self.dir_op(d, ("del", name))

    def rmdir(self, path):
        with self.mutex:
            self.change("rmdir", path)
            d, name = self.parent(path)
            os.rmdir(self.bpath(path))
            self.dir_op(d, ("del", name))

    def rename(self, old, new):
        with self.mutex:
            self.change("rename", "%s -> %s" % (old, new))
            src, a = self.parent(old)
            dst, b = self.parent(new)
            node = src.live.get(a)
            os.rename(self.bpath(old), self.bpath(new))
            if src is dst:
                self.dir_op(src, ("rename", a, b))
            else:
                self.dir_op(src, ("del", a))
                self.dir_op(dst, ("add", b, node))

    def write(self, path, data, offset, fh):
        with self.mutex:
            fd, node = self.fd_of(fh)
            self.change("write", path)
            n = os.pwrite(fd, data, offset)
            node.pending.append(("write", offset, bytes(data[:n])))
            return n

    def truncate(self, path, length, fh=None):
        with self.mutex:
            if fh is not None:
                fd, node = self.fd_of(fh)
            else:
                node = self.node_at(path)
            self.change("truncate", path)
            if fh is not None:
                os.ftruncate(fd, length)
            else:
                os.truncate(self.bpath(path), length)
            node.pending.append(("truncate", length))

    def chmod(self, path, mode):
        with self.mutex:
            node = self.node_at(path)
            self.change("chmod", path)
            os.chmod(self.bpath(path), stat.S_IMODE(mode), follow_symlinks=False)
            node.pending.append(("chmod", stat.S_IMODE(mode)))

    def chown(self, path, uid, gid):
        with self.mutex:
            node = self.node_at(path)
            self.change("chown", path)
            uid = -1 if uid == 0xFFFFFFFF else uid
            gid = -1 if gid == 0xFFFFFFFF else gid
            os.chown(self.bpath(path), uid, gid, follow_symlinks=False)
            node.pending.append(("chown", uid, gid))

    def utimens(self, path, times=None):
        with self.mutex:
            self.change("utimens", path)
            if times:
                os.utime(self.bpath(path), ns=times, follow_symlinks=False)
            else:
                os.utime(self.bpath(path), follow_symlinks=False)

    def fsync(self, path, datasync, fh):
        with self.mutex:
            fd, node = self.fd_of(fh)
            self.change("fdatasync" if datasync else "fsync", path)
            st = os.fstat(fd)
            node.durable_now(os.pread(fd, st.st_size, 0), meta_of(st))

    def fsyncdir(self, path, datasync, fh):
        with self.mutex:
            node = self.node_at(path)
            self.change("fsyncdir", path)
            node.entries = dict(node.live)
            node.meta = meta_of(os.lstat(self.bpath(path)))
            node.pending = []

    # --- control --------------------------------------------------------------------------

    def plant(self, path, data, mode):
        """Creates a file as another process would, but past libfuse's path locks,
        which a held operation on the same name keeps."""
        d, name = self.parent(path)
        p = self.bpath(path)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        os.write(fd, data)
        st = os.fstat(fd)
        os.close(fd)
        node = Inode("f", meta_of(st))
        node.pending.append(("write", 0, data))
        self.by_ino[st.st_ino] = node
        self.dir_op(d, ("add", name, node))

    def command(self, req):
        cmd = req.get("cmd")
        with self.mutex:
            if cmd == "sync":
                self.sync_all()
                return {}
            if cmd == "hold":
                self.hold_at = [int(req["pid"]), int(req["n"]), req.get("op")]
                self.dead.discard(int(req["pid"]))  # a new process, its pid reused
                self.counts[int(req["pid"])] = 0
                self.oplog[int(req["pid"])] = []
                return {}
            if cmd == "wait_held":
                self.mutex.wait_for(lambda: self.held is not None, float(req.get("timeout", 30)))
                return {"held": self.held}
            if cmd == "release":
                self.held = None
                self.hold_at = None
                self.mutex.notify_all()
                return {}
            if cmd == "cut":
                mode = req.get("mode", "strict")
                if mode not in ("strict", "reorder"):
                    raise ValueError("mode must be strict or reorder")
                self.dead.update(int(p) for p in req.get("kill", []))
                return self.cut(mode, req.get("seed", 0))
            if cmd == "ops":
                pid = int(req["pid"])
                ops = self.oplog.pop(pid, [])
                self.counts[pid] = 0
                return {"ops": ops}
            if cmd == "plant":
                self.plant(req["path"], bytes.fromhex(req["data"]), int(req["mode"]))
                return {}
            if cmd == "stats":
                return dict(self.stats)
        raise ValueError("unknown command %r" % cmd)


def describe(node, op):
    if op[0] == "write":
        return "write %d bytes at %d" % (len(op[2]), op[1])
    if op[0] in ("add", "del"):
        return "%s %s" % (op[0], op[1])
    if op[0] == "rename":
        return "rename %s -> %s" % (op[1], op[2])
    return " ".join(str(x) for x in op)


def serve_control(fs, path):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o600)
    srv.listen(8)

    def client(conn):
        with conn, conn.makefile("rwb") as f:
            for line in f:
                try:
                    reply = dict(fs.command(json.loads(line)), ok=True)
                except Exception as e:  # the reply names it; the file system goes on
                    reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
                f.write(json.dumps(reply).encode() + b"\n")
                f.flush()

    def accept():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=client, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def main():
    if len(sys.argv) != 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    backing, mountpoint, control = sys.argv[1:]
    fs = ForgetFS(backing)
    serve_control(fs, control)
    # Timeouts 0 and direct_io: every lookup, attribute and read comes here, so
    # nothing the kernel cached outlives a cut. hard_remove: an unlinked open
    # file is gone, not renamed to .fuse_hidden*.
    FUSE(fs, mountpoint, foreground=True, allow_other=True, default_permissions=True,
         direct_io=True, hard_remove=True, use_ino=True, attr_timeout=0, entry_timeout=0,
         negative_timeout=0, fsname="forgetfs", subtype="forgetfs")


if __name__ == "__main__":
    main()
