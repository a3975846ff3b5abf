#include <iostream>
int main() { std::cout << "onnxq\n"; return 0; }
