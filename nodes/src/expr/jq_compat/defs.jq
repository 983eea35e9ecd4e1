# jq 1.8 definitions overriding jaq's where jaq differs (loaded after jaq's defs).
