"""Drives `bundlebase repl <bundle>` through a real pseudo-terminal, step by step.

Usage: pty-repl.py <bin> <bundle> <steps.json>. Each step is {"send": text, "until": regex,
"seconds": n, "repeat": s}: it sends the text (again every `repeat` seconds when given) and waits
until the REPL prints `until` after the send (without a send: after the previous step's). Waiting on what the REPL prints rather than for a
fixed time means a slow machine only makes it slower, never wrong; a wait that times out moves on
and the test's assertions then say what was missing. The steps end with one that leaves the REPL.

Prints JSON: {"steps": [what the REPL printed from each step's send to the next], "exit": status}.
"""
import json, os, pty, re, select, sys, time

bin_path, bundle, steps = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
pid, fd = pty.fork()
if pid == 0:
    os.execvp('node', ['node', bin_path, 'repl', bundle])

out = b''
ended = False  # the REPL closed the terminal (it exited)
def read_until(pattern, seconds, start):
    """Reads until `pattern` occurs in the output after byte `start`; True if it did in time."""
    global out, ended
    end = time.time() + seconds
    while not pattern.search(out, start):
        remaining = end - time.time()
        if ended or remaining <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], min(0.1, remaining))
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b''
            if not chunk:
                ended = True
            out += chunk
    return True

def send(data):
    if not ended:
        os.write(fd, data.encode())

marks = []
for step in steps:
    marks.append(len(out))
    until = re.compile(step.get('until', '(?!)').encode())
    seconds = step.get('seconds', 30)
    if 'repeat' in step:
        # e.g. Ctrl-C until a query is cancelled: one that lands before the query starts does not
        deadline = time.time() + seconds
        while not ended and time.time() < deadline and not read_until(until, step['repeat'], marks[-1]):
            send(step['send'])
    else:
        send(step.get('send', ''))
        # a step that sends nothing waits for more of the previous step's output
        read_until(until, seconds, marks[-1] if 'send' in step or len(marks) < 2 else marks[-2])
read_until(re.compile(b'(?!)'), 30, len(out))  # to the end of the output (the REPL exits)
_, status = os.waitpid(pid, 0)
text = [out[a:b].decode('utf-8', 'replace') for a, b in zip(marks, marks[1:] + [len(out)])]
sys.stdout.write(json.dumps({'steps': text, 'exit': os.waitstatus_to_exitcode(status)}))
