# embed_kernel.cmake — writes IN (a .cl file) as the NUL-terminated byte array NAME into OUT
# (a .c file); run with cmake -P. Bytes, not a string literal: C11 limits literal lengths.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" hex "${hex}")
file(WRITE ${OUT}.tmp "/* Generated from ${IN} by embed_kernel.cmake; do not edit. */\n"
     "const char ${NAME}[] = {\n${hex}0x00};\n")
file(RENAME ${OUT}.tmp ${OUT})
