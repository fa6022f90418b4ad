#include <stdio.h>
#include <string.h>
#include <zlib.h>
int main(void) {
    const char *text = "jdyld loads zlib from libz.a; jdyld loads zlib from libz.a; jdyld loads zlib from libz.a";
    unsigned char packed[256], unpacked[256];
    uLongf packedLen = sizeof packed, unpackedLen = sizeof unpacked;
    if (compress2(packed, &packedLen, (const Bytef *) text, strlen(text) + 1, 9) != Z_OK) return 1;
    if (uncompress(unpacked, &unpackedLen, packed, packedLen) != Z_OK) return 2;
    printf("zlib %s: %zu -> %lu -> %lu bytes, crc32=%08lx, same=%d\n", zlibVersion(), strlen(text) + 1,
           (unsigned long) packedLen, (unsigned long) unpackedLen, crc32(0, (const Bytef *) text, strlen(text)),
           strcmp(text, (const char *) unpacked) == 0);
    return 0;
}
