/* BLIS alone, without pathint: prints the kernel set BLIS's own detection picks here. The
 * opt-out test compares pathint's process with it. */
#include <blis.h>
#include <stdio.h>

int main(void)
{
    bli_init(); /* before the query: BLIS 0.9.0 aborts otherwise when BLIS_ARCH_TYPE is set */
    printf("%s\n", bli_arch_string(bli_arch_query_id()));
    return 0;
}
