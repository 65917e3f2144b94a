"""What the analysis knows about names and calls: sources, sanitizers, sinks and call kinds.

- **sources**: anything read from `request` (Flask, Django, ...: `USER`); `input()`,
  `sys.argv`, `sys.stdin`, `os.environ` (`LOCAL`: the operator's own input, so a CLI
  that opens the file it is given is no finding); and a function's parameters (`PARAM`):
  a caller may pass anything, but nothing says it does. Findings need `USER`; any bit
  keeps the model's claims.
- **sanitizers**: HTML escaping, shell quoting, number conversion, hashing, base64,
  `secure_filename`/`basename`, and `.replace(quote, ...)` that removes a quote character.
- **sinks**: eval/exec, deserializers, shells, SQL `execute` (the query, not its bound
  parameters), file paths, XPath, LDAP, XML parsers with external entities on, redirects,
  outgoing requests, writes to the session or a response header, and a route handler's
  returned body (XSS).
"""

from __future__ import annotations

SOURCE_NAMES = frozenset({"request"})
SOURCE_CHAINS = ("sys.argv", "sys.stdin", "os.environ", "os.getenv", "input", "raw_input")

# Calls whose result cannot carry an injection, whatever goes in.
NEUTRAL = frozenset({
    "int", "float", "bool", "len", "abs", "round", "hash", "ord", "isinstance", "hasattr", "callable", "id",
    "hexdigest", "digest", "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "blake2s",
    "uuid4", "uuid5", "uuid3",
})
QUOTED_CONTEXTS = frozenset({"sql", "xpath"})  # a value without quotes cannot close a quoted literal there
# Calls that make their result safe for some sinks only: HTML escaping does nothing for a redirect.
SANITIZERS: dict[str, frozenset[str]] = {
    "escape": frozenset({"xss"}), "escape_for_html": frozenset({"xss"}), "html_escape": frozenset({"xss"}),
    "escape_html": frozenset({"xss"}), "quoteattr": frozenset({"xss"}), "escape_filter_chars": frozenset({"ldap"}),
    "shlex.quote": frozenset({"command"}), "pipes.quote": frozenset({"command"}),
    "secure_filename": frozenset({"path"}), "basename": frozenset({"path"}),
}
ALL_KINDS = frozenset({"code", "deserialization", "command", "sql", "path", "xpath", "ldap", "xml", "redirect",
                        "request", "session", "header", "xss"})
# Encodings are safe until decoded again: `b64decode(b64encode(x))` is x.
ENCODERS = frozenset({"b64encode", "urlsafe_b64encode", "standard_b64encode", "hexlify", "b2a_base64"})
DECODERS = frozenset({"b64decode", "urlsafe_b64decode", "standard_b64decode", "unhexlify", "a2b_base64",
                       "unquote", "unquote_plus", "unescape"})

# kind, argument positions that must not be tainted (None: any argument), keyword names
Sink = tuple[str, tuple[int, ...] | None, tuple[str, ...]]
SINK_FUNCTIONS: dict[str, Sink] = {
    "eval": ("code", (0,), ("source",)), "exec": ("code", (0,), ("source",)), "compile": ("code", (0,), ("source",)),
    "__import__": ("code", (0,), ()), "import_module": ("code", (0,), ()),
    "pickle.loads": ("deserialization", (0,), ()), "pickle.load": ("deserialization", (0,), ()),
    "cPickle.loads": ("deserialization", (0,), ()), "marshal.loads": ("deserialization", (0,), ()),
    "dill.loads": ("deserialization", (0,), ()), "jsonpickle.decode": ("deserialization", (0,), ()),
    "shelve.open": ("deserialization", (0,), ()), "yaml.unsafe_load": ("deserialization", (0,), ()),
    "yaml.full_load": ("deserialization", (0,), ()), "yaml.load_all": ("deserialization", (0,), ()),
    "os.system": ("command", (0,), ()), "os.popen": ("command", (0,), ()), "popen2.popen2": ("command", (0,), ()),
    "subprocess.run": ("command", (0,), ("args",)), "subprocess.call": ("command", (0,), ("args",)),
    "subprocess.Popen": ("command", (0,), ("args",)), "subprocess.check_output": ("command", (0,), ("args",)),
    "subprocess.check_call": ("command", (0,), ("args",)), "subprocess.getoutput": ("command", (0,), ()),
    "subprocess.getstatusoutput": ("command", (0,), ()), "commands.getoutput": ("command", (0,), ()),
    "open": ("path", (0,), ("file",)), "io.open": ("path", (0,), ("file",)),
    "codecs.open": ("path", (0,), ("filename",)),
    "os.open": ("path", (0,), ()), "os.remove": ("path", (0,), ()), "os.unlink": ("path", (0,), ()),
    "os.rmdir": ("path", (0,), ()), "os.removedirs": ("path", (0,), ()), "os.rename": ("path", None, ()),
    "os.replace": ("path", None, ()), "os.mkdir": ("path", (0,), ()), "os.makedirs": ("path", (0,), ()),
    "os.listdir": ("path", (0,), ()), "os.scandir": ("path", (0,), ()), "os.walk": ("path", (0,), ()),
    "os.stat": ("path", (0,), ()), "os.path.exists": ("path", (0,), ()), "os.path.isfile": ("path", (0,), ()),
    "os.path.isdir": ("path", (0,), ()), "os.path.getsize": ("path", (0,), ()), "os.chmod": ("path", (0,), ()),
    "os.chown": ("path", (0,), ()),
    "shutil.copy": ("path", None, ()), "shutil.copyfile": ("path", None, ()), "shutil.copytree": ("path", None, ()),
    "shutil.move": ("path", None, ()), "shutil.rmtree": ("path", (0,), ()), "send_file": ("path", (0,), ()),
    "send_from_directory": ("path", (1,), ("path", "filename")), "fileinput.input": ("path", (0,), ()),
    "tarfile.open": ("path", (0,), ("name",)), "zipfile.ZipFile": ("path", (0,), ("file",)),
    "redirect": ("redirect", (0,), ("location",)), "HttpResponseRedirect": ("redirect", (0,), ()),
    "RedirectResponse": ("redirect", (0,), ("url",)),
    "requests.get": ("request", (0,), ("url",)), "requests.post": ("request", (0,), ("url",)),
    "requests.request": ("request", (1,), ("url",)), "urlopen": ("request", (0,), ("url",)),
    "render_template_string": ("xss", (0,), ("source",)), "Markup": ("xss", (0,), ()),
    "mark_safe": ("xss", (0,), ()),
}
# Matched on the last name of a method call, whatever the object.
SINK_METHODS: dict[str, Sink] = {
    "execute": ("sql", (0,), ("sql", "statement", "operation")), "executemany": ("sql", (0,), ()),
    "executescript": ("sql", (0,), ()), "raw": ("sql", (0,), ()),
    "xpath": ("xpath", (0,), ()), "XPath": ("xpath", (0,), ()), "XPathEvaluator": ("xpath", (0,), ()),
    "save": ("path", (0,), ("dst",)),  # an uploaded file saved under a name the client chose
    "search": ("ldap", None, ("search_filter",)), "search_s": ("ldap", None, ()), "search_ext_s": ("ldap", None, ()),
}
NOT_LDAP = frozenset({"re", "regex", "?"})
XML_MODULES = ("xml", "etree", "ET", "minidom", "sax", "lxml", "pulldom", "expat")
XML_CALLS = frozenset({"parse", "parseString", "fromstring", "XML", "iterparse", "XMLParser"})
PATH_METHODS = frozenset({"open", "read_text", "read_bytes", "write_text", "write_bytes", "unlink", "rmdir", "mkdir",
                           "touch", "rename", "exists", "is_file", "is_dir", "iterdir", "stat", "glob"})
# Sinks also matched by their bare name on any object or module (`flask.redirect`, `urllib.request.urlopen`);
# others need their module (`re.compile` is no code sink).
BARE_SINKS = frozenset({"redirect", "urlopen", "send_file", "send_from_directory", "render_template_string",
                         "Markup", "mark_safe", "HttpResponseRedirect", "RedirectResponse"})
MUTATORS = frozenset({"write", "writelines", "append", "appendleft", "extend", "add", "update", "insert", "put",
                       "push", "setdefault", "set"})
READS_STORED_DATA = frozenset({"sql", "xpath", "ldap", "path", "xml"})
EMPTY_MAPPINGS = frozenset({"ConfigParser", "RawConfigParser", "SafeConfigParser", "dict", "OrderedDict", "defaultdict"})
RESPONSE_CALLS = frozenset({"make_response", "Response", "HttpResponse", "jsonify"})
SAFE_LOADERS = ("SafeLoader", "CSafeLoader", "BaseLoader")

# Calls that check a value's content, not mere presence: a guard that leaves after one makes what
# follows safe (`if not name.isalnum(): return`).
CONTENT_CHECKS = frozenset({"startswith", "endswith", "isalnum", "isalpha", "isdigit", "isdecimal", "isnumeric",
                             "isidentifier", "isascii", "match", "fullmatch", "search"})

# Decorators that make a function a request handler, whose returned body is an XSS sink.
ROUTE_DECORATORS = frozenset({"route", "get", "post", "put", "patch", "delete", "api_view", "view_config"})
