# jq 1.8 definitions overriding jaq's where jaq differs (loaded after jaq's definitions,
# so these win). Native helpers (`_jq_*`, setpath, delpaths, ...) are in funs.rs.
# Many are jq 1.8's own definitions from src/builtin.jq (MIT, (C) Stephen Dolan).

# jaq's natives under other names, for the definitions below
def _jaq_limit($n; f): limit($n; f);
def _jaq_skip($n; f): skip($n; f);
def _jaq_startswith($s): startswith($s);
def _jaq_endswith($s): endswith($s);
def _jaq_utf8bytelength: utf8bytelength;
def _jaq_indices($i): indices($i);
def _jaq_bsearch($x): bsearch($x);
def _jaq_strftime($f): strftime($f);
def _jaq_strflocaltime($f): strflocaltime($f);
def _jaq_mktime: mktime;
def _jaq_trim: trim;
def _jaq_ltrim: ltrim;
def _jaq_rtrim: rtrim;
def _jaq_fromjson: fromjson;
def _jaq_tojson: tojson;
def _jaq_sort: sort;

# natives of funs.rs under jq's names (a definition wins over a native of the same name)
def setpath($p; $x): _jq_setpath($p; $x);
def delpaths($ps): _jq_delpaths($ps);
def has($k): _jq_has($k);
def length: _jq_length;
def tonumber: _jq_tonumber;
def toboolean: _jq_toboolean;
def implode: _jq_implode;
def contains($b): _jq_contains($b);
def tojson: if _jq_too_deep_to_print then _jq_tojson_cut else _jaq_tojson end;
def @json: tojson;
# comparisons deeper than jq's limit are an error (checked on the sorted neighbours)
def sort: _jaq_sort | _jq_sort_check(0);
def unique: _jaq_sort | _jq_sort_check(1) | _jq_dedup_sorted;
def inside(xs): . as $x | xs | contains($x);
def in(xs): . as $x | xs | has($x);

def have_decnum: true;
def have_literal_numbers: true;

# Generators
def limit($n; f):
  if $n < 0 then error("limit doesn't support negative count") else _jaq_limit($n; f) end;
def skip($n; f):
  if $n < 0 then error("skip doesn't support negative count") else _jaq_skip($n; f) end;
def nth($n; g):
  if $n < 0 then error("nth doesn't support negative indices") else first(skip($n; g)) end;

# Paths
def getpath($path): ($path | _jq_check_path) as $_ | reduce $path[] as $p (.; .[$p]);
def del(f): delpaths([path(f)]);
def to_entries: [keys_unsorted[] as $k | {key: $k, value: .[$k]}];
def from_entries: map({ (.key // .Key // .name // .Name):
  if has("value") then .value else .Value end }) | add // {};
def with_entries(f): to_entries | map(f) | from_entries;
def pick(pathexps): . as $in | reduce path(pathexps) as $a (null; setpath($a; $in | getpath($a)));

# Strings
def startswith($s):
  if type == "string" and ($s | type) == "string" then _jaq_startswith($s)
  else error("startswith() requires string inputs") end;
def endswith($s):
  if type == "string" and ($s | type) == "string" then _jaq_endswith($s)
  else error("endswith() requires string inputs") end;
def ltrimstr($left): if startswith($left) then .[$left | length:] end;
def rtrimstr($right): if endswith($right) then .[:length - ($right | length)] end;
def trimstr($val): ltrimstr($val) | rtrimstr($val);
def trim: if type == "string" then _jaq_trim else error("trim input must be a string") end;
def ltrim: if type == "string" then _jaq_ltrim else error("trim input must be a string") end;
def rtrim: if type == "string" then _jaq_rtrim else error("trim input must be a string") end;
def utf8bytelength:
  if type == "string" then _jaq_utf8bytelength
  else error("\(_jq_describe) only strings have UTF-8 byte length") end;
def _strindices($i):
  if type != "string" then error("\(_jq_describe) cannot be searched, as it is not a string")
  elif ($i | type) != "string" then error("\($i | _jq_describe) is not a string")
  else _jaq_indices($i) end;
def join($x): reduce .[] as $i (null;
    (if . == null then "" else . + $x end) as $acc
    | ($i | if type == "boolean" or type == "number" then tojson
            elif type == "string" then .
            elif . == null then ""
            else error("\($acc | _jq_describe) and \(_jq_describe) cannot be added") end) as $s
    | $acc + $s
  ) // "";
def @csv: if type != "array" then error("\(_jq_describe) cannot be csv-formatted, only an array can be")
  else map(if type == "string" then "\"" + (split("\"") | join("\"\"")) + "\""
           elif type == "number" then tojson
           elif type == "boolean" then tojson
           elif . == null then ""
           else error("\(_jq_describe) is not valid in a csv row") end) | join(",") end;
def @tsv: if type != "array" then error("\(_jq_describe) cannot be tsv-formatted, only an array can be")
  else map(if type == "string" then gsub("\\\\"; "\\\\") | gsub("\t"; "\\t") | gsub("\n"; "\\n") | gsub("\r"; "\\r")
           elif type == "number" or type == "boolean" then tojson
           elif . == null then ""
           else error("\(_jq_describe) is not valid in a tsv row") end) | join("\t") end;

# Arrays
def _flatten($x): reduce .[] as $i ([];
  if $i | type == "array" and $x != 0 then . + ($i | _flatten($x - 1)) else . + [$i] end);
def flatten($x): if $x < 0 then error("flatten depth must not be negative") else _flatten($x) end;
def flatten: _flatten(-1);
def bsearch($target):
  if type == "array" then _jaq_bsearch($target)
  else error("\(_jq_describe) cannot be searched from") end;

# SQL-ish operators
def INDEX(stream; idx_expr): reduce stream as $row ({}; .[$row | idx_expr | tostring] = $row);
def INDEX(idx_expr): INDEX(.[]; idx_expr);
def JOIN($idx; idx_expr): [.[] | [., $idx[idx_expr]]];
def JOIN($idx; stream; idx_expr): stream | [., $idx[idx_expr]];
def JOIN($idx; stream; idx_expr; join_expr): stream | [., $idx[idx_expr]] | join_expr;
def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);

# Dates: jq accepts broken-down times with fewer than 8 fields (the rest are 0)
def _jq_tm($what):
  if type == "array" and length >= 1 and all(.[]; type == "number") then (. + [0, 0, 0, 0, 0, 0, 0, 0][length:])
  elif type == "number" then .
  else error("\($what) requires parsed datetime inputs") end;
def strftime($f):
  if ($f | type) != "string" then error("strftime/1 requires a string format")
  else _jq_tm("strftime/1") | _jaq_strftime($f) end;
def strflocaltime($f):
  if ($f | type) != "string" then error("strflocaltime/1 requires a string format")
  else _jq_tm("strflocaltime/1") | _jaq_strflocaltime($f) end;
def mktime: if type != "array" then error("mktime requires array of 6 numbers") else _jq_tm("mktime") | _jaq_mktime end;
def todateiso8601: strftime("%Y-%m-%dT%H:%M:%SZ");
def todate: todateiso8601;

# JSON: jq reads `nan` (and `NaN`, `-NaN`) as NaN, but no NaN with a payload
def fromjson:
  if . == "nan" or . == "NaN" or . == "-NaN" or . == "-nan" then nan
  elif type == "string" and test("^-?[Nn]a[Nn][0-9]+$") then
    error("Invalid numeric literal at EOF at line 1, column \(length) (while parsing '\(.)')")
  elif type == "string" and _jq_json_too_deep then error("Exceeds depth limit for parsing")
  else _jaq_fromjson end;

# jq 1.8's builtins (name/arity), without the internal ones starting with `_`
def builtins: [
  "IN/1", "IN/2", "INDEX/1", "INDEX/2", "JOIN/2", "JOIN/3", "JOIN/4", "abs/0", "acos/0", "acosh/0",
  "add/0", "add/1", "all/0", "all/1", "all/2", "any/0", "any/1", "any/2", "arrays/0",
  "ascii_downcase/0", "ascii_upcase/0", "asin/0", "asinh/0", "atan/0", "atan2/2", "atanh/0",
  "booleans/0", "bsearch/1", "capture/1", "capture/2", "cbrt/0", "ceil/0", "combinations/0",
  "combinations/1", "contains/1", "copysign/2", "cos/0", "cosh/0", "debug/0", "debug/1", "del/1",
  "delpaths/1", "drem/2", "endswith/1", "env/0", "erf/0", "erfc/0", "error/0", "error/1", "exp/0",
  "exp10/0", "exp2/0", "explode/0", "expm1/0", "fabs/0", "fdim/2", "finites/0", "first/0",
  "first/1", "flatten/0", "flatten/1", "floor/0", "fma/3", "fmax/2", "fmin/2", "fmod/2", "format/1",
  "frexp/0", "from_entries/0", "fromdate/0", "fromdateiso8601/0", "fromjson/0", "fromstream/1",
  "gamma/0", "get_jq_origin/0", "get_prog_origin/0", "get_search_list/0", "getpath/1", "gmtime/0",
  "group_by/1", "gsub/2", "gsub/3", "halt/0", "halt_error/0", "halt_error/1", "has/1",
  "have_decnum/0", "have_literal_numbers/0", "hypot/2", "implode/0", "in/1", "index/1", "indices/1",
  "infinite/0", "input/0", "input_filename/0", "input_line_number/0", "inputs/0", "inside/1",
  "isempty/1", "isfinite/0", "isinfinite/0", "isnan/0", "isnormal/0", "iterables/0", "j0/0", "j1/0",
  "jn/2", "join/1", "keys/0", "keys_unsorted/0", "last/0", "ldexp/2", "length/0", "lgamma/0",
  "lgamma_r/0", "limit/2", "localtime/0", "log/0", "log10/0", "log1p/0", "log2/0", "logb/0",
  "ltrim/0", "ltrimstr/1", "map/1", "map_values/1", "match/1", "match/2", "max/0", "max_by/1",
  "min/0", "min_by/1", "mktime/0", "modf/0", "modulemeta/0", "nan/0", "nearbyint/0", "nextafter/2",
  "nexttoward/2", "normals/0", "now/0", "nth/1", "nth/2", "nulls/0", "numbers/0", "objects/0",
  "paths/0", "paths/1", "pick/1", "pow/2", "range/1", "range/3", "recurse/0", "recurse/1",
  "recurse/2", "remainder/2", "repeat/1", "reverse/0", "rindex/1", "rint/0", "round/0", "rtrim/0",
  "rtrimstr/1", "scalars/0", "scalb/2", "scalbln/2", "scan/1", "scan/2", "select/1", "setpath/2",
  "significand/0", "sin/0", "sinh/0", "skip/2", "sort/0", "sort_by/1", "split/1", "split/2",
  "splits/1", "splits/2", "sqrt/0", "startswith/1", "stderr/0", "strflocaltime/1", "strftime/1",
  "strings/0", "strptime/1", "sub/2", "sub/3", "tan/0", "tanh/0", "test/1", "test/2", "tgamma/0",
  "to_entries/0", "toboolean/0", "todate/0", "todateiso8601/0", "tojson/0", "tonumber/0",
  "tostream/0", "tostring/0", "transpose/0", "trim/0", "trimstr/1", "trunc/0", "truncate_stream/1",
  "type/0", "unique/0", "unique_by/1", "until/2", "utf8bytelength/0", "values/0", "walk/1",
  "while/2", "with_entries/1", "y0/0", "y1/0", "yn/2"
];

# jq 1.8's update semantics (`|= empty` deletes) for the library's own updates, and jq's walk
# (bottom-up over a copy, not jaq's `.. |= f`).
def map_values(f): _modify(.[]; f);
def walk(f): def w: if type == "object" then map_values(w) elif type == "array" then map(w) else . end | f; w;
