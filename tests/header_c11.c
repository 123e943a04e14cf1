/* header_c11.c — the public header compiles as strict ISO C11 (-pedantic-errors) on its own. */
#include "optcl.h"

int main(void)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    return optcl_version() == OPTCL_VERSION_HEX && c.adam.beta1 == 0.9 ? 0 : 1;
}
