/* Tries to become root: prints what setuid(0) returned and the uid after.
 * Built static so it runs in an image with no libc. Used by
 * tests/privilege.rs with a cap_setuid+ep file capability planted on it. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    int r = setuid(0);
    printf("setuid(0)=%d uid=%d euid=%d\n", r, (int)getuid(), (int)geteuid());
    return r == 0 ? 0 : 3;
}
