# Script mode: writes OUT, a C++ file defining SYMBOL as the bytes of IN (hex, so any content
# is safe), plus SYMBOL_size.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){32})" "\\1\n" body "${body}")
file(WRITE ${OUT} "// Generated from ${IN} by cmake/embed_file.cmake. Do not edit.\n"
     "extern const char ${SYMBOL}[];\nextern const unsigned long ${SYMBOL}_size;\n"
     "const char ${SYMBOL}[] = {\n${body}0x00};\n"
     "const unsigned long ${SYMBOL}_size = ${size};\n")
