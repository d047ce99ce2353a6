/* A tiny program that needs a writable data directory and trusts an extra
 * CA: it appends one line to $DATA_DIR/visits.log and reports the CA bundle
 * it would use. Static: the built-in base has no libc. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    const char *dir = getenv("DATA_DIR");
    const char *ca = getenv("SSL_CERT_FILE");
    char path[4096];
    if (!dir) dir = "/var/lib/datastore";
    snprintf(path, sizeof path, "%s/visits.log", dir);
    FILE *f = fopen(path, "a");
    if (!f) { perror(path); return 1; }
    fputs("visit\n", f);
    fclose(f);
    printf("wrote %s; extra CA: %s\n", path, ca ? ca : "(none)");
    return 0;
}
