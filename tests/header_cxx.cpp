// header_cxx.cpp — the public header compiles as C++11 (-pedantic-errors) and links from C++.
#include "optcl.h"

int main()
{
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    const char *name = optcl_status_name(OPTCL_ERROR_IO);
    return optcl_version() == OPTCL_VERSION_HEX && c.lr == 1e-3 && name[0] == 'O' ? 0 : 1;
}
