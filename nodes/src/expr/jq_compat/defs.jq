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

# natives of funs.rs under jq's names (a definition wins over a native of the same name)
def setpath($p; $x): _jq_setpath($p; $x);
def delpaths($ps): _jq_delpaths($ps);
def has($k): _jq_has($k);
def length: _jq_length;
def tonumber: _jq_tonumber;
def toboolean: _jq_toboolean;
def implode: _jq_implode;

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
def from_entries: reduce .[] as $x ({};
  . + { ($x | if type == "object" then (.key // .k // .name // .Name // .K // .Key) else . end
           | if type == "string" then . elif type == "null" then "null" else tojson end):
        ($x | if type == "object" then (if has("value") then .value elif has("v") then .v else .Value end) else null end) });
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
  if type == "string" and ($i | type) == "string" then _jaq_indices($i)
  else error("_strindices/1 requires string inputs") end;
def join($x): reduce .[] as $i (null;
    (if . == null then "" else . + $x end) +
    ($i | if type == "boolean" or type == "number" then tojson
          elif type == "string" then .
          elif . == null then ""
          else error("string (\(null | tojson)) and \(_jq_describe) cannot be added") end)
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

# Dates: jq accepts broken-down times with fewer than 8 fields
def _jq_tm($what):
  if type == "array" and length >= 1 and all(.[]; type == "number") then (. + [0, 1, 0, 0, 0, 0, 0, 0][length:])
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
