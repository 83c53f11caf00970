/* The embedded default model's bytes, placed in read-only data by the assembler. GGUF needs
   its tensor data aligned to 32 bytes relative to the file start, so the blob is 64-aligned. */
    .section .rodata
    .balign 64
    .global llcuda_embedded_model_begin
    .global llcuda_embedded_model_end
    .hidden llcuda_embedded_model_begin
    .hidden llcuda_embedded_model_end
llcuda_embedded_model_begin:
    .incbin LLCUDA_EMBEDDED_MODEL_PATH
llcuda_embedded_model_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
