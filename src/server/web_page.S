/* The web chat page (src/server/web/chat.html), placed in read-only data by the assembler so
   the binary serves it with no files beside it and no build step beyond CMake. */
    .section .rodata
    .global llcuda_web_page_begin
    .global llcuda_web_page_end
    .hidden llcuda_web_page_begin
    .hidden llcuda_web_page_end
llcuda_web_page_begin:
    .incbin LLCUDA_WEB_PAGE_PATH
llcuda_web_page_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
