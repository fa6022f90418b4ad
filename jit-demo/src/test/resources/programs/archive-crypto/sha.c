#include <stdio.h>
#include <string.h>
#include <openssl/sha.h>
#include <openssl/evp.h>
int main(void) {
    const char *text = "jdyld hashes with libcrypto.a";
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *) text, strlen(text), digest);
    printf("SHA256: ");
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) printf("%02x", digest[i]);
    printf("\n");
    unsigned char md[EVP_MAX_MD_SIZE]; unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha512(), NULL);
    EVP_DigestUpdate(ctx, text, strlen(text));
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    printf("SHA512 (EVP, %u bytes): ", len);
    for (unsigned i = 0; i < 8; i++) printf("%02x", md[i]);
    printf("...\n");
    return 0;
}
