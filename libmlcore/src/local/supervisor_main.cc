// mlc-supervisor: runs one job of the local backend (see supervisor.h).
#include "local/supervisor.h"

int main(int argc, char** argv) { return mlcore::local::SupervisorMain(argc, argv); }
