#include "data/npy.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "core/error.h"

namespace onnxq::data {

namespace fs = std::filesystem;

std::string read_file_bytes(const std::string& path) {
  if (!fs::exists(path)) throw Error(path + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  fs::path tmp = fs::path(path);
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot write (folder missing or not writable?)");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      fs::remove(tmp);
      throw Error(path + ": write failed");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp);
    throw Error(path + ": cannot rename temporary file: " + ec.message());
  }
}

namespace {

struct NpyType {
  char kind;  // 'f', 'i', 'u', 'b'
  int size;
  DType dtype;
};
constexpr NpyType kNpyTypes[] = {
    {'f', 4, DType::Float}, {'f', 8, DType::Double}, {'f', 2, DType::Float16},
    {'i', 1, DType::Int8},  {'i', 2, DType::Int16},  {'i', 4, DType::Int32},
    {'i', 8, DType::Int64}, {'u', 1, DType::UInt8},  {'u', 2, DType::UInt16},
    {'u', 4, DType::UInt32}, {'u', 8, DType::UInt64}, {'b', 1, DType::Bool},
};

// Value of 'key' in the header dict, as the raw text up to the next
// top-level comma or closing brace.
std::string header_field(const std::string& h, const std::string& key, const std::string& label) {
  auto p = h.find("'" + key + "'");
  if (p == std::string::npos) throw Error(label + ": .npy header lacks '" + key + "'");
  p = h.find(':', p);
  size_t start = p + 1;
  int depth = 0;
  size_t i = start;
  for (; i < h.size(); ++i) {
    char c = h[i];
    if (c == '(' || c == '[') ++depth;
    else if (c == ')' || c == ']') --depth;
    else if ((c == ',' || c == '}') && depth == 0) break;
  }
  std::string v = h.substr(start, i - start);
  v.erase(0, v.find_first_not_of(" "));
  v.erase(v.find_last_not_of(" ") + 1);
  return v;
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& label) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    throw Error(label + ": not a .npy file (bad magic)");
  int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else {
    if (bytes.size() < 12) throw Error(label + ": truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  }
  if (offset + header_len > bytes.size()) throw Error(label + ": truncated .npy header");
  std::string h = bytes.substr(offset, header_len);
  std::string descr = header_field(h, "descr", label);
  std::string fortran = header_field(h, "fortran_order", label);
  std::string shape_text = header_field(h, "shape", label);
  if (descr.size() < 4 || (descr[0] != '\'' && descr[0] != '"'))
    throw Error(label + ": unsupported .npy dtype " + descr);
  char endian = descr[1];
  char kind = descr[2];
  int size = std::atoi(descr.substr(3).c_str());
  const NpyType* type = nullptr;
  for (const auto& t : kNpyTypes)
    if (t.kind == kind && t.size == size) type = &t;
  if (!type) throw Error(label + ": unsupported .npy dtype " + descr + " (numeric and bool only)");
  Shape shape;
  {
    std::string s = shape_text;
    for (char& c : s)
      if (c == '(' || c == ')' || c == ',') c = ' ';
    std::istringstream is(s);
    int64_t d;
    while (is >> d) shape.push_back(d);
  }
  Tensor t(type->dtype, shape);
  size_t data_off = offset + header_len;
  if (bytes.size() - data_off < t.nbytes())
    throw Error(label + ": .npy data is truncated: " + std::to_string(bytes.size() - data_off) +
                " bytes for " + dtype_name(type->dtype) + shape_str(shape));
  std::memcpy(t.raw(), bytes.data() + data_off, t.nbytes());
  if (endian == '>' && size > 1) {
    auto* p = static_cast<unsigned char*>(t.raw());
    for (int64_t i = 0; i < t.numel(); ++i) std::reverse(p + i * size, p + (i + 1) * size);
  }
  if (fortran.find("True") != std::string::npos && shape.size() > 1) {
    // Column-major on disk: element at multi-index idx sits at sum idx[k]*fstride[k].
    Tensor c(type->dtype, shape);
    int r = static_cast<int>(shape.size());
    std::vector<int64_t> fstride(r, 1), idx(r, 0);
    for (int k = 1; k < r; ++k) fstride[k] = fstride[k - 1] * shape[k - 1];
    auto* src = static_cast<const unsigned char*>(t.raw());
    auto* dst = static_cast<unsigned char*>(c.raw());
    for (int64_t i = 0; i < t.numel(); ++i) {
      int64_t off = 0;
      for (int k = 0; k < r; ++k) off += idx[k] * fstride[k];
      std::memcpy(dst + i * size, src + off * size, static_cast<size_t>(size));
      for (int k = r - 1; k >= 0; --k) {
        if (++idx[k] < shape[k]) break;
        idx[k] = 0;
      }
    }
    return c;
  }
  return t;
}

Tensor read_npy(const std::string& path) { return parse_npy(read_file_bytes(path), path); }

std::string npy_bytes(const Tensor& t) {
  const NpyType* type = nullptr;
  for (const auto& nt : kNpyTypes)
    if (nt.dtype == t.dtype()) type = &nt;
  if (!type) throw Error("cannot write " + dtype_name(t.dtype()) + " to .npy");
  std::string descr = std::string("'") + (type->size == 1 ? '|' : '<') + type->kind +
                      std::to_string(type->size) + "'";
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + ",";
  if (t.shape().size() > 1) shape.pop_back();
  shape += ")";
  std::string h = "{'descr': " + descr + ", 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>((h.size() >> 8) & 0xff);
  out += h;
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  return out;
}

void write_npy(const Tensor& t, const std::string& path) { write_file_atomic(path, npy_bytes(t)); }

// ---------------------------------------------------------------- zip

namespace {

uint32_t rd32(const std::string& b, size_t p) {
  if (p + 4 > b.size()) throw Error("truncated zip");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(b[p + i])) << (8 * i);
  return v;
}
uint16_t rd16(const std::string& b, size_t p) {
  if (p + 2 > b.size()) throw Error("truncated zip");
  return static_cast<uint16_t>(static_cast<unsigned char>(b[p]) |
                               (static_cast<unsigned char>(b[p + 1]) << 8));
}
void wr32(std::string& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b += static_cast<char>((v >> (8 * i)) & 0xff);
}
void wr16(std::string& b, uint16_t v) {
  b += static_cast<char>(v & 0xff);
  b += static_cast<char>(v >> 8);
}

std::string inflate_raw(const std::string& in, size_t out_size, const std::string& label) {
  std::string out(out_size, '\0');
  z_stream zs{};
  if (inflateInit2(&zs, -15) != Z_OK) throw Error(label + ": zlib init failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) throw Error(label + ": corrupt compressed entry");
  return out;
}

}  // namespace

NamedArrays read_npz(const std::string& path) {
  std::string b = read_file_bytes(path);
  NamedArrays out;
  try {
    // End of central directory: scan backwards for its signature.
    if (b.size() < 22) throw Error("too short");
    size_t eocd = std::string::npos;
    for (size_t p = b.size() - 22 + 1; p-- > 0 && b.size() - p <= 22 + 65535;)
      if (rd32(b, p) == 0x06054b50) {
        eocd = p;
        break;
      }
    if (eocd == std::string::npos) throw Error("not a zip archive");
    uint16_t count = rd16(b, eocd + 10);
    size_t cd = rd32(b, eocd + 16);
    for (uint16_t i = 0; i < count; ++i) {
      if (rd32(b, cd) != 0x02014b50) throw Error("bad central directory");
      uint16_t method = rd16(b, cd + 10);
      uint32_t csize = rd32(b, cd + 20), usize = rd32(b, cd + 24);
      uint16_t nlen = rd16(b, cd + 28), xlen = rd16(b, cd + 30), clen = rd16(b, cd + 32);
      uint32_t local = rd32(b, cd + 42);
      std::string name = b.substr(cd + 46, nlen);
      if (csize == 0xffffffffu || usize == 0xffffffffu || local == 0xffffffffu)
        throw Error("zip64 entries are not supported");
      cd += 46 + nlen + xlen + clen;
      if (rd32(b, local) != 0x04034b50) throw Error("bad local header for " + name);
      size_t data = local + 30 + rd16(b, local + 26) + rd16(b, local + 28);
      if (data + csize > b.size()) throw Error("entry " + name + " is truncated");
      std::string raw = b.substr(data, csize);
      std::string label = path + ":" + name;
      if (method == 8) raw = inflate_raw(raw, usize, label);
      else if (method != 0) throw Error("entry " + name + " uses unsupported compression");
      std::string key = name;
      if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
      out.emplace_back(key, parse_npy(raw, label));
    }
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind(path, 0) == 0) throw;
    throw Error(path + ": not a valid .npz file: " + msg);
  }
  return out;
}

void write_npz(const NamedArrays& arrays, const std::string& path) {
  std::string zip, central;
  for (const auto& [name, t] : arrays) {
    std::string data = npy_bytes(t);
    std::string fname = name + ".npy";
    uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()),
                                               static_cast<uInt>(data.size())));
    if (data.size() >= 0xffffffffu || zip.size() >= 0xffffffffu)
      throw Error(path + ": array '" + name + "' is too large for .npz (over 4 GB)");
    uint32_t offset = static_cast<uint32_t>(zip.size());
    wr32(zip, 0x04034b50); wr16(zip, 20); wr16(zip, 0); wr16(zip, 0); wr16(zip, 0); wr16(zip, 0x21);
    wr32(zip, crc); wr32(zip, static_cast<uint32_t>(data.size())); wr32(zip, static_cast<uint32_t>(data.size()));
    wr16(zip, static_cast<uint16_t>(fname.size())); wr16(zip, 0);
    zip += fname;
    zip += data;
    wr32(central, 0x02014b50); wr16(central, 20); wr16(central, 20); wr16(central, 0); wr16(central, 0);
    wr16(central, 0); wr16(central, 0x21); wr32(central, crc);
    wr32(central, static_cast<uint32_t>(data.size())); wr32(central, static_cast<uint32_t>(data.size()));
    wr16(central, static_cast<uint16_t>(fname.size())); wr16(central, 0); wr16(central, 0);
    wr16(central, 0); wr16(central, 0); wr32(central, 0); wr32(central, offset);
    central += fname;
  }
  uint32_t cd_offset = static_cast<uint32_t>(zip.size());
  zip += central;
  wr32(zip, 0x06054b50); wr16(zip, 0); wr16(zip, 0);
  wr16(zip, static_cast<uint16_t>(arrays.size())); wr16(zip, static_cast<uint16_t>(arrays.size()));
  wr32(zip, static_cast<uint32_t>(central.size())); wr32(zip, cd_offset); wr16(zip, 0);
  write_file_atomic(path, zip);
}

}  // namespace onnxq::data
