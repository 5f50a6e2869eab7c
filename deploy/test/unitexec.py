#!/usr/bin/env python3
"""Read a systemd unit the way systemd does for what a service's process gets: its command line
(ExecStart with %-specifiers and $VAR / ${VAR} expanded), its environment (Environment=,
EnvironmentFile=, STATE_DIRECTORY, CREDENTIALS_DIRECTORY and the variables systemd always sets),
its credentials (LoadCredential=) and state directory (StateDirectory=), its exit-code policy
(RestartPreventExitStatus=) and its stop timeout. Used by deploy/test/systemd.sh; no systemd needed.

Only the unit-file syntax the Tributary units use is supported (documented in systemd.syntax(7),
systemd.service(5), systemd.exec(5), systemd.unit(5) "Specifiers"); anything else in a setting we
rely on is an error, not a guess.
"""
import json
import os
import re
import socket

# systemd's default PATH for services (systemd.exec(5), "Environment variables in spawned processes").
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def read_unit(path):
    """[(section, key, value)] in file order; continuation lines (a trailing backslash) joined with a
    space, comment lines (# or ;) dropped, including those inside a continued setting."""
    entries, section, pending = [], None, None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            stripped = line.strip()
            if pending is not None:
                if stripped.startswith(("#", ";")):
                    continue
                if stripped.endswith("\\"):
                    pending += " " + stripped[:-1].strip()
                    continue
                pending += " " + stripped
                entries.append(split_assignment(section, pending))
                pending = None
                continue
            if not stripped or stripped.startswith(("#", ";")):
                continue
            if stripped.startswith("[") and stripped.endswith("]"):
                section = stripped[1:-1]
                continue
            if stripped.endswith("\\"):
                pending = stripped[:-1].rstrip()
                continue
            entries.append(split_assignment(section, stripped))
    if pending is not None:
        entries.append(split_assignment(section, pending))
    return entries


def split_assignment(section, text):
    if "=" not in text:
        raise SystemExit(f"unitexec: not a KEY=VALUE line in [{section}]: {text!r}")
    key, value = text.split("=", 1)
    return section, key.strip(), value.strip()


def values(entries, section, key):
    """Every value of KEY in SECTION, honouring "KEY=" (empty) as a reset of the list so far."""
    out = []
    for s, k, v in entries:
        if s == section and k == key:
            if v == "":
                out = []
            else:
                out.append(v)
    return out


def single(entries, section, key, default=None):
    vals = values(entries, section, key)
    return vals[-1] if vals else default


def unit_names(unit_path, instance):
    """(full unit name, prefix, instance) for a unit file, instantiating a template."""
    base = os.path.basename(unit_path)
    name, _, suffix = base.rpartition(".")
    if name.endswith("@"):
        if instance is None:
            raise SystemExit(f"unitexec: {base} is a template: give --instance")
        return f"{name}{instance}.{suffix}", name[:-1], instance
    if "@" in name:
        prefix, inst = name.split("@", 1)
        return base, prefix, inst
    return base, name, ""


def unescape_instance(text):
    """%I: the instance with systemd's escaping undone (\\xNN -> byte, '-' -> '/')."""
    text = text.replace("-", "/")
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)


def expand_specifiers(text, unit_name, prefix, instance):
    """The %-specifiers of systemd.unit(5) that these units use; any other one is an error."""
    table = {
        "%": "%",
        "i": instance,
        "I": unescape_instance(instance),
        "n": unit_name,
        "N": unit_name.rsplit(".", 1)[0],
        "p": prefix,
        "H": socket.gethostname(),
        "l": socket.gethostname().split(".")[0],
    }

    def repl(m):
        c = m.group(1)
        if c not in table:
            raise SystemExit(f"unitexec: specifier %{c} is not supported by this test")
        return table[c]

    return re.sub(r"%(.)", repl, text)


def split_words(text):
    """systemd.syntax(7) word splitting: whitespace separates words; "double" and 'single' quotes
    group; C-style backslash escapes."""
    words, cur, i, quote, have = [], [], 0, None, False
    escapes = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", " ": " ", "s": " "}
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            cur.append(escapes.get(n, n))
            have = True
            i += 2
            continue
        if quote:
            if c == quote:
                quote = None
            else:
                cur.append(c)
            i += 1
            continue
        if c in "\"'":
            quote, have = c, True
            i += 1
            continue
        if c.isspace():
            if have:
                words.append("".join(cur))
                cur, have = [], False
            i += 1
            continue
        cur.append(c)
        have = True
        i += 1
    if quote:
        raise SystemExit(f"unitexec: unbalanced quote in {text!r}")
    if have:
        words.append("".join(cur))
    return words


def expand_command(words, env):
    """systemd.service(5), "Command lines": a word that is exactly $NAME becomes the variable's
    value split at whitespace (zero or more words); ${NAME} anywhere is replaced in place (one word).
    An unset variable is the empty string. "$$" is a literal dollar."""
    out = []
    for w in words:
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", w)
        if m:
            out.extend(env.get(m.group(1), "").split())
            continue
        w = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), w)
        out.append(w.replace("$$", "$"))
    return out


def read_environment_file(path):
    """systemd.exec(5), EnvironmentFile=: KEY=VALUE lines; # and ; comments; quotes around a value
    are removed; a trailing backslash continues the line."""
    env = {}
    with open(path, encoding="utf-8") as f:
        text = f.read().replace("\\\n", "")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if "=" not in line:
            raise SystemExit(f"unitexec: {path}: not KEY=VALUE: {line!r}")
        k, v = line.split("=", 1)
        k, v = k.strip(), v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
            v = v[1:-1]
        env[k] = v
    return env


def plan(unit_path, instance, root, state_base, creds_base):
    """What systemd would give the service's main process. ROOT prefixes the absolute paths the unit
    reads from the host (EnvironmentFile=, LoadCredential= sources), like `systemd-analyze --root`."""
    entries = read_unit(unit_path)
    unit_name, prefix, inst = unit_names(unit_path, instance)
    spec = lambda t: expand_specifiers(t, unit_name, prefix, inst)  # noqa: E731
    known = {
        "Type", "EnvironmentFile", "Environment", "LoadCredential", "StateDirectory",
        "StateDirectoryMode", "ExecStart", "ExecReload", "Restart", "RestartSec",
        "RestartPreventExitStatus", "KillSignal", "TimeoutStopSec", "MemoryMax", "LimitNOFILE",
        "DynamicUser", "UMask", "CapabilityBoundingSet", "AmbientCapabilities", "NoNewPrivileges",
        "PrivateTmp", "PrivateDevices", "PrivateUsers", "PrivateMounts", "ProtectSystem",
        "ProtectHome", "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
        "ProtectControlGroups", "ProtectClock", "ProtectHostname", "ProtectProc",
        "RestrictAddressFamilies", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID",
        "LockPersonality", "MemoryDenyWriteExecute", "RemoveIPC", "KeyringMode", "DevicePolicy",
        "SystemCallArchitectures", "SystemCallFilter", "SystemCallErrorNumber",
    }
    unknown = sorted({k for s, k, _ in entries if s == "Service" and k not in known})
    if unknown:
        raise SystemExit(f"unitexec: {unit_path}: settings this test does not model: {unknown}")

    env = {
        "PATH": DEFAULT_PATH,
        "INVOCATION_ID": os.urandom(16).hex(),
    }
    if single(entries, "Service", "DynamicUser", "no") in ("yes", "true", "1", "on"):
        # A dynamic user has no home and no shell (systemd.exec(5), DynamicUser=); its name is the
        # unit's (systemd hashes names that are not valid user names, such as a template's).
        user = unit_name.rsplit(".", 1)[0]
        env.update(HOME="/", SHELL="/usr/sbin/nologin", USER=user, LOGNAME=user)
    for raw in values(entries, "Service", "Environment"):
        for word in split_words(spec(raw)):
            k, _, v = word.partition("=")
            env[k] = v
    env_files = []
    for raw in values(entries, "Service", "EnvironmentFile"):
        optional = raw.startswith("-")
        path = spec(raw[1:] if optional else raw)
        host_path = root + path
        env_files.append(path)
        if not os.path.exists(host_path):
            if optional:
                continue
            raise SystemExit(f"unitexec: EnvironmentFile {path} missing (looked at {host_path})")
        env.update(read_environment_file(host_path))

    state_dirs = [spec(w) for raw in values(entries, "Service", "StateDirectory") for w in raw.split()]
    if state_dirs:
        env["STATE_DIRECTORY"] = ":".join(os.path.join(state_base, d) for d in state_dirs)
    creds = []
    for raw in values(entries, "Service", "LoadCredential"):
        ident, _, src = spec(raw).partition(":")
        creds.append({"id": ident, "source": src, "host_source": root + src})
    if creds:
        env["CREDENTIALS_DIRECTORY"] = os.path.join(creds_base, unit_name)

    exec_start = values(entries, "Service", "ExecStart")
    if len(exec_start) != 1:
        raise SystemExit(f"unitexec: {unit_path}: expected one ExecStart=, found {len(exec_start)}")
    line = spec(exec_start[0])
    if line[:1] in "@-:+!":
        raise SystemExit(f"unitexec: ExecStart prefixes are not modelled: {line!r}")
    argv = expand_command(split_words(line), env)

    prevent = [int(w) for raw in values(entries, "Service", "RestartPreventExitStatus")
               for w in raw.split() if w.isdigit()]
    timeout_stop = single(entries, "Service", "TimeoutStopSec", "90")
    m = re.fullmatch(r"(\d+)(s?)", timeout_stop)
    if not m:
        raise SystemExit(f"unitexec: TimeoutStopSec={timeout_stop} not in seconds")
    umask = single(entries, "Service", "UMask", "0022")
    return {
        "unit": unit_name,
        "argv": argv,
        "env": env,
        "environment_files": env_files,
        "state_directories": state_dirs,
        "state_directory_mode": single(entries, "Service", "StateDirectoryMode", "0755"),
        "credentials": creds,
        "restart_prevent_exit_status": prevent,
        "restart": single(entries, "Service", "Restart", "no"),
        "timeout_stop_seconds": int(m.group(1)),
        "kill_signal": single(entries, "Service", "KillSignal", "SIGTERM"),
        "umask": umask,
        "dynamic_user": single(entries, "Service", "DynamicUser", "no") == "yes",
        "no_new_privileges": single(entries, "Service", "NoNewPrivileges", "no") == "yes",
        "memory_deny_write_execute": single(entries, "Service", "MemoryDenyWriteExecute", "no") == "yes",
    }


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("unit")
    p.add_argument("--instance")
    p.add_argument("--root", default="")
    p.add_argument("--state-base", default="/var/lib")
    p.add_argument("--credentials-base", default="/run/credentials")
    a = p.parse_args()
    print(json.dumps(plan(a.unit, a.instance, a.root, a.state_base, a.credentials_base), indent=2))
