#pragma once
#include <string>

std::string arch_name();
int pointer_bits();
