// The one file that converts between protobuf (onnx::ModelProto) and ir::Model.
#include "ir/onnx_io.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/unknown_field_set.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "core/error.h"

namespace onnxq::ir {

namespace fs = std::filesystem;
namespace pb = ::onnx;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Atomic write: temp file in the same folder, then rename.
void write_file_atomic(const std::string& path, const std::string& bytes) {
  fs::path p(path);
  fs::path tmp = p;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot write (folder missing or not writable?)");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      fs::remove(tmp);
      throw Error(path + ": write failed (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec) {
    fs::remove(tmp);
    throw Error(path + ": cannot rename temporary file: " + ec.message());
  }
}

template <class Msg>
std::string unknown_of(const Msg& m) {
  const auto& u = m.GetReflection()->GetUnknownFields(m);
  if (u.empty()) return {};
  std::string s;
  u.SerializeToString(&s);
  return s;
}
template <class Msg>
void restore_unknown(Msg* m, const std::string& s) {
  if (!s.empty()) m->GetReflection()->MutableUnknownFields(m)->ParseFromString(s);
}

// ---------------------------------------------------------------- tensors

template <class T, class Field>
void copy_field(Tensor& t, const Field& f, const std::string& label) {
  if (static_cast<int64_t>(f.size()) != t.numel())
    throw Error(label + ": has " + std::to_string(f.size()) + " values for shape " +
                shape_str(t.shape()));
  T* d = t.data<T>();
  for (int i = 0; i < f.size(); ++i) d[i] = static_cast<T>(f.Get(i));
}

Tensor tensor_from_proto(const pb::TensorProto& tp, const std::string& base_dir,
                         const std::string& where) {
  std::string label = where + " tensor '" + tp.name() + "'";
  if (!dtype_is_known(tp.data_type()))
    throw Error(label + ": unknown element type code " + std::to_string(tp.data_type()));
  DType dt = static_cast<DType>(tp.data_type());
  Shape shape(tp.dims().begin(), tp.dims().end());
  for (int64_t d : shape)
    if (d < 0) throw Error(label + ": negative dimension in " + shape_str(shape));
  if (tp.has_segment()) throw Error(label + ": segmented tensors are not supported");
  Tensor t(dt, shape);

  std::string external;
  const std::string* raw = nullptr;
  if (tp.data_location() == pb::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& kv : tp.external_data()) {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = std::stoll(kv.value());
      else if (kv.key() == "length") length = std::stoll(kv.value());
    }
    if (location.empty()) throw Error(label + ": external data without a location");
    fs::path file = fs::path(base_dir) / location;
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error(label + ": cannot open external data file " + file.string());
    if (length < 0) length = static_cast<int64_t>(t.nbytes());
    external.resize(static_cast<size_t>(length));
    in.seekg(offset);
    in.read(external.data(), length);
    if (in.gcount() != length)
      throw Error(label + ": external data file " + file.string() + " is too short");
    raw = &external;
  } else if (tp.has_raw_data()) {
    raw = &tp.raw_data();
  }

  if (dt == DType::String) {
    if (static_cast<int64_t>(tp.string_data_size()) != t.numel())
      throw Error(label + ": has " + std::to_string(tp.string_data_size()) +
                  " strings for shape " + shape_str(shape));
    auto& s = t.strings();
    for (int i = 0; i < tp.string_data_size(); ++i) s[i] = tp.string_data(i);
    return t;
  }
  if (raw) {
    if (raw->size() != t.nbytes())
      throw Error(label + ": holds " + std::to_string(raw->size()) + " bytes, shape " +
                  shape_str(shape) + " of " + dtype_name(dt) + " needs " +
                  std::to_string(t.nbytes()));
    if (!raw->empty()) std::memcpy(t.raw(), raw->data(), raw->size());
    return t;
  }
  switch (dt) {
    case DType::Float: copy_field<float>(t, tp.float_data(), label); break;
    case DType::Double: copy_field<double>(t, tp.double_data(), label); break;
    case DType::Int64: copy_field<int64_t>(t, tp.int64_data(), label); break;
    case DType::Int32: copy_field<int32_t>(t, tp.int32_data(), label); break;
    case DType::Int16: copy_field<int16_t>(t, tp.int32_data(), label); break;
    case DType::Int8: copy_field<int8_t>(t, tp.int32_data(), label); break;
    case DType::UInt16: copy_field<uint16_t>(t, tp.int32_data(), label); break;
    case DType::UInt8: copy_field<uint8_t>(t, tp.int32_data(), label); break;
    case DType::Bool: copy_field<bool>(t, tp.int32_data(), label); break;
    case DType::UInt32: copy_field<uint32_t>(t, tp.uint64_data(), label); break;
    case DType::UInt64: copy_field<uint64_t>(t, tp.uint64_data(), label); break;
    case DType::Float16:
    case DType::BFloat16: {
      if (static_cast<int64_t>(tp.int32_data_size()) != t.numel())
        throw Error(label + ": wrong number of values");
      auto* d = static_cast<uint16_t*>(t.raw());
      for (int i = 0; i < tp.int32_data_size(); ++i) d[i] = static_cast<uint16_t>(tp.int32_data(i));
      break;
    }
    case DType::Complex64: {
      if (static_cast<int64_t>(tp.float_data_size()) != 2 * t.numel())
        throw Error(label + ": wrong number of values");
      std::memcpy(t.raw(), tp.float_data().data(), t.nbytes());
      break;
    }
    case DType::Complex128: {
      if (static_cast<int64_t>(tp.double_data_size()) != 2 * t.numel())
        throw Error(label + ": wrong number of values");
      std::memcpy(t.raw(), tp.double_data().data(), t.nbytes());
      break;
    }
    default: {  // 8-bit floats and 4-bit types: one byte per int32 entry
      auto* d = static_cast<uint8_t*>(t.raw());
      if (static_cast<size_t>(tp.int32_data_size()) == t.nbytes()) {
        for (int i = 0; i < tp.int32_data_size(); ++i) d[i] = static_cast<uint8_t>(tp.int32_data(i));
      } else if (t.numel() != 0) {
        throw Error(label + ": wrong number of values for " + dtype_name(dt));
      }
    }
  }
  return t;
}

void tensor_to_proto(const Tensor& t, const std::string& name, pb::TensorProto* tp) {
  tp->set_name(name);
  tp->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) tp->add_dims(d);
  if (t.dtype() == DType::String) {
    for (const auto& s : t.strings()) tp->add_string_data(s);
    return;
  }
  tp->set_raw_data(std::string(static_cast<const char*>(t.raw()), t.nbytes()));
}

// ---------------------------------------------------------------- types

TypeInfo type_from_proto(const pb::TypeProto& tp) {
  TypeInfo t;
  if (tp.value_case() == pb::TypeProto::kTensorType) {
    t.kind = TypeInfo::Kind::Tensor;
    t.elem = static_cast<DType>(tp.tensor_type().elem_type());
    if (tp.tensor_type().has_shape()) {
      std::vector<Dim> dims;
      for (const auto& d : tp.tensor_type().shape().dim()) {
        Dim dim;
        if (d.has_dim_value()) dim.value = d.dim_value();
        if (d.has_dim_param()) dim.param = d.dim_param();
        dims.push_back(dim);
      }
      t.shape = dims;
    }
  } else if (tp.value_case() != pb::TypeProto::VALUE_NOT_SET) {
    t.kind = TypeInfo::Kind::Other;
    tp.SerializeToString(&t.other_serialized);
  }
  return t;
}

void type_to_proto(const TypeInfo& t, pb::TypeProto* tp) {
  if (t.kind == TypeInfo::Kind::Other) {
    tp->ParseFromString(t.other_serialized);
    return;
  }
  if (t.kind != TypeInfo::Kind::Tensor) return;
  auto* tt = tp->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(t.elem));
  if (t.shape) {
    auto* sh = tt->mutable_shape();
    for (const Dim& d : *t.shape) {
      auto* dp = sh->add_dim();
      if (d.known()) dp->set_dim_value(d.value);
      else if (!d.param.empty()) dp->set_dim_param(d.param);
    }
  }
}

void value_info_to_proto(const Value* v, pb::ValueInfoProto* vi) {
  vi->set_name(v->name());
  if (!v->doc_string.empty()) vi->set_doc_string(v->doc_string);
  if (v->type.kind != TypeInfo::Kind::Unknown) type_to_proto(v->type, vi->mutable_type());
}

// ---------------------------------------------------------------- graphs

std::unique_ptr<Graph> graph_from_proto(const pb::GraphProto& gp, Graph* parent,
                                        const std::string& base_dir);

Attribute attribute_from_proto(const pb::AttributeProto& ap, Graph* owner,
                               const std::string& base_dir, const std::string& where) {
  Attribute a;
  a.name = ap.name();
  a.ref_attr_name = ap.ref_attr_name();
  a.doc_string = ap.doc_string();
  a.type = static_cast<AttrType>(ap.type());
  std::string label = where + " attribute '" + ap.name() + "'";
  switch (ap.type()) {
    case pb::AttributeProto::FLOAT: a.f = ap.f(); break;
    case pb::AttributeProto::INT: a.i = ap.i(); break;
    case pb::AttributeProto::STRING: a.s = ap.s(); break;
    case pb::AttributeProto::TENSOR: a.t = tensor_from_proto(ap.t(), base_dir, label); break;
    case pb::AttributeProto::GRAPH: a.g = graph_from_proto(ap.g(), owner, base_dir); break;
    case pb::AttributeProto::FLOATS: a.floats.assign(ap.floats().begin(), ap.floats().end()); break;
    case pb::AttributeProto::INTS: a.ints.assign(ap.ints().begin(), ap.ints().end()); break;
    case pb::AttributeProto::STRINGS: a.strings.assign(ap.strings().begin(), ap.strings().end()); break;
    case pb::AttributeProto::TENSORS:
      for (const auto& t : ap.tensors()) a.tensors.push_back(tensor_from_proto(t, base_dir, label));
      break;
    case pb::AttributeProto::GRAPHS:
      for (const auto& g : ap.graphs()) a.graphs.push_back(graph_from_proto(g, owner, base_dir));
      break;
    case pb::AttributeProto::UNDEFINED:
      if (a.ref_attr_name.empty()) {
        // Old files omit the type: infer it from the populated field.
        if (ap.has_f()) { a.type = AttrType::Float; a.f = ap.f(); }
        else if (ap.has_i()) { a.type = AttrType::Int; a.i = ap.i(); }
        else if (ap.has_s()) { a.type = AttrType::String; a.s = ap.s(); }
        else if (ap.has_t()) { a.type = AttrType::Tensor; a.t = tensor_from_proto(ap.t(), base_dir, label); }
        else if (ap.ints_size()) { a.type = AttrType::Ints; a.ints.assign(ap.ints().begin(), ap.ints().end()); }
        else if (ap.floats_size()) { a.type = AttrType::Floats; a.floats.assign(ap.floats().begin(), ap.floats().end()); }
        else if (ap.strings_size()) { a.type = AttrType::Strings; a.strings.assign(ap.strings().begin(), ap.strings().end()); }
      }
      ap.SerializeToString(&a.serialized);
      break;
    default:  // sparse tensors, type protos: kept verbatim
      ap.SerializeToString(&a.serialized);
  }
  return a;
}

void attribute_to_proto(const Attribute& a, pb::AttributeProto* ap);
void graph_to_proto(const Graph& g, pb::GraphProto* gp);

void attribute_to_proto(const Attribute& a, pb::AttributeProto* ap) {
  if (!a.serialized.empty() &&
      (a.type == AttrType::SparseTensor || a.type == AttrType::SparseTensors ||
       a.type == AttrType::TypeProto || a.type == AttrType::TypeProtos)) {
    ap->ParseFromString(a.serialized);
    return;
  }
  ap->set_name(a.name);
  if (!a.ref_attr_name.empty()) ap->set_ref_attr_name(a.ref_attr_name);
  if (!a.doc_string.empty()) ap->set_doc_string(a.doc_string);
  if (a.type == AttrType::Undefined) {
    if (!a.serialized.empty()) ap->ParseFromString(a.serialized);
    return;
  }
  ap->set_type(static_cast<pb::AttributeProto::AttributeType>(a.type));
  switch (a.type) {
    case AttrType::Float: ap->set_f(a.f); break;
    case AttrType::Int: ap->set_i(a.i); break;
    case AttrType::String: ap->set_s(a.s); break;
    case AttrType::Tensor: tensor_to_proto(a.t, "", ap->mutable_t()); break;
    case AttrType::Graph: graph_to_proto(*a.g, ap->mutable_g()); break;
    case AttrType::Floats: for (float f : a.floats) ap->add_floats(f); break;
    case AttrType::Ints: for (int64_t i : a.ints) ap->add_ints(i); break;
    case AttrType::Strings: for (const auto& s : a.strings) ap->add_strings(s); break;
    case AttrType::Tensors: for (const auto& t : a.tensors) tensor_to_proto(t, "", ap->add_tensors()); break;
    case AttrType::Graphs: for (const auto& g : a.graphs) graph_to_proto(*g, ap->add_graphs()); break;
    default: break;
  }
}

std::unique_ptr<Graph> graph_from_proto(const pb::GraphProto& gp, Graph* parent,
                                        const std::string& base_dir) {
  auto g = std::make_unique<Graph>(parent);
  g->name = gp.name();
  g->doc_string = gp.doc_string();
  g->unknown_fields = unknown_of(gp);
  std::string where = parent ? "subgraph '" + gp.name() + "'" : "graph '" + gp.name() + "'";

  for (const auto& in : gp.input()) {
    Value* v = g->get_or_create_value(in.name());
    v->type = type_from_proto(in.type());
    v->doc_string = in.doc_string();
    g->add_input(v);
  }
  for (const auto& init : gp.initializer()) {
    Value* v = g->get_or_create_value(init.name());
    TypeInfo declared = v->type;
    g->set_initializer(v, tensor_from_proto(init, base_dir, where + " initializer"));
    if (declared.kind == TypeInfo::Kind::Tensor && declared.shape) v->type = declared;
  }
  for (const auto& sp : gp.sparse_initializer()) {
    std::string s;
    sp.SerializeToString(&s);
    g->sparse_initializers.push_back(s);
  }
  // Outputs of every node first, so inputs can refer to nodes listed later.
  for (const auto& np : gp.node())
    for (const auto& o : np.output())
      if (!o.empty()) g->get_or_create_value(o);

  auto resolve = [&](const std::string& name) -> Value* {
    if (name.empty()) return nullptr;
    if (Value* v = g->find_value(name)) return v;
    if (parent && parent->lookup(name)) return g->mark_outer(name);
    return g->get_or_create_value(name);  // undefined: validate() reports it
  };

  for (const auto& np : gp.node()) {
    std::vector<Value*> ins;
    for (const auto& i : np.input()) ins.push_back(resolve(i));
    std::vector<Value*> outs;
    for (const auto& o : np.output()) outs.push_back(o.empty() ? nullptr : g->find_value(o));
    for (Value* o : outs)
      if (o && o->producer())
        throw Error(where + ": value '" + o->name() + "' is produced by two nodes (" +
                    o->producer()->describe() + " and " + np.op_type() + " '" + np.name() + "')");
    Node* n = g->add_node_with_outputs(np.op_type(), ins, outs, np.domain(), np.name());
    n->doc_string = np.doc_string();
    n->unknown_fields = unknown_of(np);
    std::string node_where = where + " " + n->describe();
    for (const auto& ap : np.attribute()) n->set_attr(attribute_from_proto(ap, g.get(), base_dir, node_where));
  }
  for (const auto& out : gp.output()) {
    Value* v = resolve(out.name());
    if (out.has_type()) v->type = type_from_proto(out.type());
    v->doc_string = out.doc_string();
    g->add_output(v);
  }
  for (const auto& vi : gp.value_info()) {
    Value* v = g->find_value(vi.name());
    if (!v) continue;  // value_info for a name nothing uses: dropped
    v->type = type_from_proto(vi.type());
    v->doc_string = vi.doc_string();
    v->has_value_info = true;
  }
  for (const auto& qa : gp.quantization_annotation()) {
    std::string s;
    qa.SerializeToString(&s);
    g->quantization_annotations.push_back(s);
  }
  return g;
}

void graph_to_proto(const Graph& g, pb::GraphProto* gp) {
  gp->set_name(g.name);
  if (!g.doc_string.empty()) gp->set_doc_string(g.doc_string);
  for (Value* v : g.inputs()) value_info_to_proto(v, gp->add_input());
  for (Value* v : g.initializers()) tensor_to_proto(*v->initializer(), v->name(), gp->add_initializer());
  for (const auto& s : g.sparse_initializers) gp->add_sparse_initializer()->ParseFromString(s);
  for (Node* n : g.nodes()) {
    auto* np = gp->add_node();
    for (Value* v : n->inputs()) np->add_input(v ? v->name() : "");
    for (Value* v : n->outputs()) np->add_output(v ? v->name() : "");
    if (!n->name().empty()) np->set_name(n->name());
    np->set_op_type(n->op_type());
    if (!n->domain().empty()) np->set_domain(n->domain());
    if (!n->doc_string.empty()) np->set_doc_string(n->doc_string);
    for (const auto& a : n->attributes()) attribute_to_proto(a, np->add_attribute());
    restore_unknown(np, n->unknown_fields);
  }
  for (Value* v : g.outputs()) value_info_to_proto(v, gp->add_output());
  for (Value* v : g.values())
    if (v->has_value_info && !v->is_graph_input() && !v->is_graph_output() && !v->is_outer())
      value_info_to_proto(v, gp->add_value_info());
  for (const auto& s : g.quantization_annotations) gp->add_quantization_annotation()->ParseFromString(s);
  restore_unknown(gp, g.unknown_fields);
}

std::unique_ptr<Model> model_from_proto(const pb::ModelProto& mp, const std::string& base_dir) {
  auto m = std::make_unique<Model>();
  m->ir_version = mp.ir_version();
  for (const auto& o : mp.opset_import()) m->opset_imports.push_back(OpsetId{o.domain(), o.version()});
  if (mp.opset_import_size() == 0) m->opset_imports.push_back(OpsetId{"", 1});  // IR v1 default
  m->producer_name = mp.producer_name();
  m->producer_version = mp.producer_version();
  m->domain = mp.domain();
  m->model_version = mp.model_version();
  m->doc_string = mp.doc_string();
  for (const auto& kv : mp.metadata_props()) m->metadata_props.emplace_back(kv.key(), kv.value());
  for (const auto& f : mp.functions()) {
    std::string s;
    f.SerializeToString(&s);
    m->functions.push_back(s);
  }
  for (const auto& t : mp.training_info()) {
    std::string s;
    t.SerializeToString(&s);
    m->training_info.push_back(s);
  }
  m->unknown_fields = unknown_of(mp);
  m->graph = graph_from_proto(mp.graph(), nullptr, base_dir);
  return m;
}

void model_to_proto(const Model& m, pb::ModelProto* mp) {
  mp->set_ir_version(m.ir_version);
  for (const auto& o : m.opset_imports) {
    auto* op = mp->add_opset_import();
    op->set_domain(o.domain);
    op->set_version(o.version);
  }
  if (!m.producer_name.empty()) mp->set_producer_name(m.producer_name);
  if (!m.producer_version.empty()) mp->set_producer_version(m.producer_version);
  if (!m.domain.empty()) mp->set_domain(m.domain);
  if (m.model_version) mp->set_model_version(m.model_version);
  if (!m.doc_string.empty()) mp->set_doc_string(m.doc_string);
  for (const auto& [k, v] : m.metadata_props) {
    auto* kv = mp->add_metadata_props();
    kv->set_key(k);
    kv->set_value(v);
  }
  for (const auto& f : m.functions) mp->add_functions()->ParseFromString(f);
  for (const auto& t : m.training_info) mp->add_training_info()->ParseFromString(t);
  graph_to_proto(*m.graph, mp->mutable_graph());
  restore_unknown(mp, m.unknown_fields);
}

bool parse_model_bytes(const std::string& bytes, pb::ModelProto* mp) {
  google::protobuf::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(INT32_MAX);
  return mp->ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
}

// Moves large initializers of every graph to an external data file.
void externalize(pb::GraphProto* gp, const std::string& data_name, std::string& blob,
                 size_t threshold) {
  auto move_out = [&](pb::TensorProto* tp) {
    if (!tp->has_raw_data() || tp->raw_data().size() < threshold) return;
    size_t offset = (blob.size() + 4095) / 4096 * 4096;  // page aligned, as onnx does
    blob.resize(offset, '\0');
    blob += tp->raw_data();
    tp->clear_raw_data();
    tp->set_data_location(pb::TensorProto::EXTERNAL);
    auto add = [&](const char* k, const std::string& v) {
      auto* kv = tp->add_external_data();
      kv->set_key(k);
      kv->set_value(v);
    };
    add("location", data_name);
    add("offset", std::to_string(offset));
    add("length", std::to_string(blob.size() - offset));
  };
  for (auto& t : *gp->mutable_initializer()) move_out(&t);
  for (auto& n : *gp->mutable_node())
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t()) move_out(a.mutable_t());
      if (a.has_g()) externalize(a.mutable_g(), data_name, blob, threshold);
      for (auto& sg : *a.mutable_graphs()) externalize(&sg, data_name, blob, threshold);
    }
}

}  // namespace

// ---------------------------------------------------------------- public API

std::unique_ptr<Model> load_model_from_bytes(const std::string& bytes, const std::string& base_dir,
                                             const std::string& label, const LoadOptions& opts) {
  pb::ModelProto mp;
  if (bytes.empty()) throw Error(label + ": file is empty, not an ONNX model");
  if (!parse_model_bytes(bytes, &mp))
    throw Error(label + ": not a valid ONNX model (protobuf parse failed: truncated or corrupt file?)");
  if (!mp.has_graph()) throw Error(label + ": not an ONNX model (no graph)");
  std::unique_ptr<Model> m;
  try {
    m = model_from_proto(mp, base_dir);
    m->graph->validate();
  } catch (const Error& e) {
    throw Error(label + ": " + e.what());
  }
  if (opts.infer_shapes) infer_shapes(*m, nullptr, false);
  return m;
}

std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& opts) {
  if (!fs::exists(path)) throw Error(path + ": no such file");
  if (fs::is_directory(path)) throw Error(path + ": is a folder, expected an .onnx file");
  std::string dir = fs::path(path).parent_path().string();
  return load_model_from_bytes(read_file(path), dir.empty() ? "." : dir, path, opts);
}

std::string serialize_model(const Model& model) {
  pb::ModelProto mp;
  model_to_proto(model, &mp);
  std::string out;
  if (!mp.SerializeToString(&out)) throw Error("cannot serialize model (larger than 2 GB?)");
  return out;
}

void save_model(const Model& model, const std::string& path, const SaveOptions& opts) {
  pb::ModelProto mp;
  model_to_proto(model, &mp);
  bool external = opts.external_data || mp.ByteSizeLong() > (size_t{1} << 31) - (size_t{1} << 24);
  if (external) {
    std::string data_name = fs::path(path).filename().string() + ".data";
    std::string blob;
    externalize(mp.mutable_graph(), data_name, blob, opts.external_threshold);
    write_file_atomic((fs::path(path).parent_path() / data_name).string(), blob);
  }
  std::string out;
  if (!mp.SerializeToString(&out)) throw Error(path + ": cannot serialize model");
  write_file_atomic(path, out);
}

Tensor tensor_from_pb_bytes(const std::string& bytes, const std::string& label, std::string* name) {
  pb::TensorProto tp;
  if (!tp.ParseFromString(bytes)) throw Error(label + ": not a valid TensorProto file");
  if (name) *name = tp.name();
  return tensor_from_proto(tp, ".", label);
}

Tensor load_tensor_pb(const std::string& path, std::string* name) {
  pb::TensorProto tp;
  std::string bytes = read_file(path);
  if (!tp.ParseFromString(bytes)) throw Error(path + ": not a valid TensorProto file");
  if (name) *name = tp.name();
  std::string dir = fs::path(path).parent_path().string();
  return tensor_from_proto(tp, dir.empty() ? "." : dir, path);
}

std::string tensor_to_pb_bytes(const Tensor& t, const std::string& name) {
  pb::TensorProto tp;
  tensor_to_proto(t, name, &tp);
  return tp.SerializeAsString();
}

void save_tensor_pb(const Tensor& t, const std::string& path, const std::string& name) {
  write_file_atomic(path, tensor_to_pb_bytes(t, name));
}

bool onnx_library_knows(const Model& model, std::string* why) {
  auto fail = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  if (model.ir_version > 8)
    return fail("IR version " + std::to_string(model.ir_version) + " is newer than the onnx library's 8");
  for (const auto& o : model.opset_imports) {
    std::string d = canonical_domain(o.domain);
    if (d.empty() && o.version > 17)
      return fail("opset " + std::to_string(o.version) + " is newer than the onnx library's 17");
    if (d == "ai.onnx.ml" && o.version > 3)
      return fail("ai.onnx.ml opset " + std::to_string(o.version) + " is newer than the library's 3");
  }
  return true;
}

CheckReport check_model(const Model& model) {
  CheckReport r;
  std::string why;
  if (!onnx_library_knows(model, &why)) {
    r.checker_message = r.shape_inference_message = "skipped: " + why;
    return r;
  }
  pb::ModelProto mp;
  model_to_proto(model, &mp);
  r.checker_ran = true;
  try {
    pb::checker::check_model(mp);
    r.checker_ok = true;
  } catch (const std::exception& e) {
    r.checker_message = e.what();
  }
  r.shape_inference_ran = true;
  try {
    pb::ShapeInferenceOptions o(true, 1, false);
    pb::shape_inference::InferShapes(mp, pb::OpSchemaRegistry::Instance(), o);
    r.shape_inference_ok = true;
  } catch (const std::exception& e) {
    r.shape_inference_message = e.what();
  }
  r.values_typed = static_cast<int>(mp.graph().value_info_size() + mp.graph().output_size());
  return r;
}

bool infer_shapes(Model& model, std::string* message, bool record_value_info) {
  std::string why;
  if (!onnx_library_knows(model, &why)) {
    if (message) *message = "shape inference skipped: " + why;
    return false;
  }
  pb::ModelProto mp;
  model_to_proto(model, &mp);
  try {
    pb::ShapeInferenceOptions o(false, 0, true);
    pb::shape_inference::InferShapes(mp, pb::OpSchemaRegistry::Instance(), o);
  } catch (const std::exception& e) {
    if (message) *message = std::string("shape inference failed: ") + e.what();
    return false;
  }
  Graph& g = *model.graph;
  auto apply = [&](const pb::ValueInfoProto& vi, bool is_value_info) {
    Value* v = g.find_value(vi.name());
    if (!v || v->is_initializer()) return;
    TypeInfo t = type_from_proto(vi.type());
    if (t.kind != TypeInfo::Kind::Tensor) return;
    if (v->type.kind == TypeInfo::Kind::Unknown || !v->type.shape ||
        (t.shape && t.has_static_shape() && !v->type.has_static_shape()))
      v->type = t;
    if (is_value_info && record_value_info) v->has_value_info = true;
  };
  for (const auto& vi : mp.graph().value_info()) apply(vi, true);
  for (const auto& vi : mp.graph().output()) apply(vi, false);
  return true;
}

}  // namespace onnxq::ir
