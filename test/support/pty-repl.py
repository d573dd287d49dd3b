"""Drives `bundlebase repl` through a real pseudo-terminal: a slow query, Ctrl-C, then EXIT."""
import os, pty, select, sys, time

bin_path, bundle = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execvp('node', ['node', bin_path, 'repl', bundle])

out = b''
def read_for(seconds):
    global out
    end = time.time() + seconds
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                return

read_for(3)
os.write(fd, b"SELECT sum(i % 7) AS s FROM range(100000000000) t(i)\r")
read_for(1.5)
os.write(fd, b"\x03")          # Ctrl-C: cancel the query, not the REPL
read_for(2)
os.write(fd, b"COUNT\r")
read_for(3)
os.write(fd, b"EXIT\r")
read_for(3)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf-8', 'replace'))
sys.stdout.write('\nEXIT_STATUS=%d\n' % os.waitstatus_to_exitcode(status))
