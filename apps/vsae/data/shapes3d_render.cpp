// Shapes3D ray-caster: a pinhole camera orbits one object in a square room; an ambient term, a
// camera headlight and one spot lamp above the scene (which casts the object's shadow) light it.
#include "apps/vsae/data/shapes3d_render.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace vsae::data {
namespace {

struct Vec3 {
  float x, y, z;
};
inline Vec3 operator+(Vec3 a, Vec3 b) {
  return {a.x + b.x, a.y + b.y, a.z + b.z};
}
inline Vec3 operator-(Vec3 a, Vec3 b) {
  return {a.x - b.x, a.y - b.y, a.z - b.z};
}
inline Vec3 operator*(float s, Vec3 a) {
  return {s * a.x, s * a.y, s * a.z};
}
inline float dot(Vec3 a, Vec3 b) {
  return a.x * b.x + a.y * b.y + a.z * b.z;
}
inline Vec3 normalize(Vec3 a) {
  return (1.0f / std::sqrt(dot(a, a))) * a;
}

// ---- scene constants ------------------------------------------------------------------------
// World units: a cube of scale 1 has side 1; y is up, the object stands on the floor y = 0 at the
// origin. The camera, room and shapes were fitted to the real frames in shared/reference
// (boundary lines and corner positions of the 15 orientation frames to 0.15 px rms, object
// silhouettes by overlap), the lighting by least squares on their pixels.
constexpr int kSize = 64;
constexpr int kSuper = 3;                // kSuper x kSuper rays per pixel where an edge crosses it
constexpr float kCentre = 31.5f;         // principal point, in pixel-index coordinates
constexpr float kFocalPx = 68.39f;       // a 50 degree field of view
constexpr float kOrbitRadius = 3.469f;   // horizontal camera distance from the object axis
constexpr float kCameraHeight = 1.039f;  // the camera looks horizontally, so the horizon is centred
constexpr float kRoomHalf = 4.83f;       // walls at x = +-kRoomHalf and z = +-kRoomHalf
constexpr float kWallHeight = 2.81f;     // rays passing above the walls see the sky
constexpr Vec3 kSky = {153.0f / 255.0f, 226.0f / 255.0f, 249.0f / 255.0f};

// Shape sizes relative to the scale: cylinder and cube are equally tall, the sphere and the
// capsule are larger, as in the real images.
constexpr float kCylinderRadius = 0.5f;
constexpr float kCylinderHeight = 1.0f;
constexpr float kSphereRadius = 0.5875f;
constexpr float kCapsuleRadius = 0.45f;
constexpr float kCapsuleHalfLength = 0.45f;  // of the straight part between the two hemispheres

// Intensity = ambient + headlight * cos(normal, view) + lamp * cos(normal, lamp) * spot; the
// colour is albedo * intensity, clipped, so bright surfaces saturate like MuJoCo's. On objects the
// lamp also adds a flat white specular term (OpenGL's with shininess 0) wherever it reaches them:
// the real objects are paler on their lit side, with a visible step where the lamp's light ends.
struct Material {
  float ambient, headlight, lamp, specular;
};
constexpr Material kRoomMaterial = {0.354f, 0.590f, 0.956f, 0.0f};
constexpr Material kObjectMaterial = {0.393f, 0.551f, 1.098f, 0.12f};
constexpr Vec3 kLampPosition = {-2.556f, 12.982f, -1.038f};  // above, left of and behind the object
constexpr Vec3 kLampTarget = {-2.416f, 0.0f, -0.637f};

// The real walls carry a faint texture: dark diagonal marks, spaced evenly along each wall a little
// above half its height (fitted on the reference images mapped back onto the walls).
constexpr float kMarkDepth = 0.07f;   // fraction of the albedo removed at a mark's centre
constexpr float kMarkSpacing = 2.8f;  // marks at u = kMarkPhase + k * kMarkSpacing
constexpr float kMarkPhase = 0.1f;    // u runs along a wall, rightwards as seen from inside
constexpr float kMarkHeight = 1.53f;
constexpr float kMarkLength = 0.395f;  // Gaussian radii along and across the mark
constexpr float kMarkWidth = 0.187f;
constexpr float kMarkCos = 0.565f;   // the long axis points right and down, 55 degrees
constexpr float kMarkSin = -0.825f;  // below the horizontal

constexpr double kPi = 3.14159265358979323846;
constexpr float kEpsilon = 1e-4f;
constexpr float kNoHit = 1e30f;

// Spot falloff cos^14 of the angle off the lamp's axis.
inline float spot_falloff(float c) {
  if (c <= 0.0f) return 0.0f;
  const float c2 = c * c, c4 = c2 * c2, c8 = c4 * c4;
  return c8 * c4 * c2;
}

// Albedo factor of the wall marks at point p of wall `face` (1-4, as in Renderer::room_hit).
float wall_marks(int face, Vec3 p) {
  const float u = face == 1 ? p.z : face == 2 ? -p.z : face == 3 ? -p.x : p.x;
  const float k = std::round((u - kMarkPhase) / kMarkSpacing);
  const float du = u - (kMarkPhase + k * kMarkSpacing), dv = p.y - kMarkHeight;
  const float along = (du * kMarkCos + dv * kMarkSin) / kMarkLength;
  const float across = (dv * kMarkCos - du * kMarkSin) / kMarkWidth;
  return 1.0f - kMarkDepth * std::exp(-0.5f * (along * along + across * across));
}

Vec3 hue_to_rgb(double hue) {
  const double h6 = (hue - std::floor(hue)) * 6.0;
  const int sector = static_cast<int>(h6) % 6;
  const float f = static_cast<float>(h6 - std::floor(h6));
  switch (sector) {
    case 0:
      return {1.0f, f, 0.0f};
    case 1:
      return {1.0f - f, 1.0f, 0.0f};
    case 2:
      return {0.0f, 1.0f, f};
    case 3:
      return {0.0f, 1.0f - f, 1.0f};
    case 4:
      return {f, 0.0f, 1.0f};
    default:
      return {1.0f, 0.0f, 1.0f - f};
  }
}

struct Ray {
  Vec3 origin, dir;  // dir is unit length
};

struct Hit {
  float t = kNoHit;
  Vec3 normal = {0.0f, 0.0f, 0.0f};
  int face = 0;  // which flat face, where a surface has several (cube, cylinder, room)
};

// Nearest hit of a sphere with t > kEpsilon, or kNoHit.
float sphere_t(const Ray& ray, Vec3 centre, float radius) {
  const Vec3 oc = ray.origin - centre;
  const float b = dot(oc, ray.dir);
  const float c = dot(oc, oc) - radius * radius;
  const float disc = b * b - c;
  if (disc < 0.0f) return kNoHit;
  const float root = std::sqrt(disc);
  const float t = -b - root;
  if (t > kEpsilon) return t;
  return -b + root > kEpsilon ? -b + root : kNoHit;
}

// The object: an upright solid of revolution (or the cube) standing on the origin.
class Object {
 public:
  Object(Shapes3DShape shape, float scale) : shape_(shape), s_(scale) {
    const float height = s_ * height_per_scale(shape);
    const float half_width = s_ * half_width_per_scale(shape);
    bound_centre_ = {0.0f, 0.5f * height, 0.0f};
    bound_radius2_ = half_width * half_width + 0.25f * height * height;
  }

  Hit intersect(const Ray& ray) const {
    if (misses_bound(ray)) return {};
    switch (shape_) {
      case Shapes3DShape::cube:
        return box(ray);
      case Shapes3DShape::cylinder:
        return cylinder(ray);
      case Shapes3DShape::sphere:
        return sphere(ray);
      case Shapes3DShape::capsule:
        return capsule(ray);
    }
    return {};
  }

 private:
  static float height_per_scale(Shapes3DShape shape) {
    switch (shape) {
      case Shapes3DShape::cylinder:
        return kCylinderHeight;
      case Shapes3DShape::sphere:
        return 2.0f * kSphereRadius;
      case Shapes3DShape::capsule:
        return 2.0f * (kCapsuleRadius + kCapsuleHalfLength);
      default:
        return 1.0f;
    }
  }

  // Largest horizontal distance from the axis (the cube's is its half diagonal).
  static float half_width_per_scale(Shapes3DShape shape) {
    switch (shape) {
      case Shapes3DShape::cylinder:
        return kCylinderRadius;
      case Shapes3DShape::sphere:
        return kSphereRadius;
      case Shapes3DShape::capsule:
        return kCapsuleRadius;
      default:
        return 0.5f * std::sqrt(2.0f);
    }
  }

  // Cheap rejection against the bounding sphere: most rays pass far from the object.
  bool misses_bound(const Ray& ray) const {
    const Vec3 oc = ray.origin - bound_centre_;
    const float b = dot(oc, ray.dir);
    const float c = dot(oc, oc) - bound_radius2_;
    return (c > 0.0f && b > 0.0f) || b * b - c < 0.0f;
  }

  // Slab test; the entering slab gives the face normal.
  Hit box(const Ray& ray) const {
    const float h = 0.5f * s_;
    const float lo[3] = {-h, 0.0f, -h}, hi[3] = {h, s_, h};
    const float o[3] = {ray.origin.x, ray.origin.y, ray.origin.z};
    const float d[3] = {ray.dir.x, ray.dir.y, ray.dir.z};
    float t_near = -kNoHit, t_far = kNoHit;
    int axis = 0;
    for (int a = 0; a < 3; ++a) {
      if (d[a] == 0.0f) {
        if (o[a] < lo[a] || o[a] > hi[a]) return {};
        continue;
      }
      float t0 = (lo[a] - o[a]) / d[a], t1 = (hi[a] - o[a]) / d[a];
      if (t0 > t1) std::swap(t0, t1);
      if (t0 > t_near) {
        t_near = t0;
        axis = a;
      }
      t_far = std::min(t_far, t1);
    }
    if (t_near > t_far || t_near <= kEpsilon) return {};
    const float sign = d[axis] > 0.0f ? -1.0f : 1.0f;
    const Vec3 n = {axis == 0 ? sign : 0.0f, axis == 1 ? sign : 0.0f, axis == 2 ? sign : 0.0f};
    return {t_near, n, 2 * axis + (sign > 0.0f)};
  }

  Hit sphere(const Ray& ray) const {
    const Vec3 centre = {0.0f, kSphereRadius * s_, 0.0f};
    const float t = sphere_t(ray, centre, kSphereRadius * s_);
    if (t == kNoHit) return {};
    return {t, normalize(ray.origin + t * ray.dir - centre)};
  }

  // The infinite vertical cylinder of `radius` about the y axis, kept where y0 <= y <= y1.
  static Hit side(const Ray& ray, float radius, float y0, float y1) {
    const float a = ray.dir.x * ray.dir.x + ray.dir.z * ray.dir.z;
    if (a == 0.0f) return {};
    const float b = ray.origin.x * ray.dir.x + ray.origin.z * ray.dir.z;
    const float c = ray.origin.x * ray.origin.x + ray.origin.z * ray.origin.z - radius * radius;
    const float disc = b * b - a * c;
    if (disc < 0.0f) return {};
    const float t = (-b - std::sqrt(disc)) / a;
    const Vec3 p = ray.origin + t * ray.dir;
    if (t <= kEpsilon || p.y < y0 || p.y > y1) return {};
    return {t, normalize({p.x, 0.0f, p.z})};
  }

  Hit cylinder(const Ray& ray) const {
    const float radius = kCylinderRadius * s_, top = kCylinderHeight * s_;
    Hit best = side(ray, radius, 0.0f, top);
    if (ray.dir.y == 0.0f) return best;
    for (const float cap : {top, 0.0f}) {
      const float t = (cap - ray.origin.y) / ray.dir.y;
      const Vec3 p = ray.origin + t * ray.dir;
      if (t > kEpsilon && t < best.t && p.x * p.x + p.z * p.z <= radius * radius)
        best = {t, {0.0f, cap > 0.0f ? 1.0f : -1.0f, 0.0f}, cap > 0.0f ? 1 : 2};
    }
    return best;
  }

  Hit capsule(const Ray& ray) const {
    const float radius = kCapsuleRadius * s_, y0 = radius,
                y1 = radius + 2.0f * kCapsuleHalfLength * s_;
    Hit best = side(ray, radius, y0, y1);
    for (const float yc : {y0, y1}) {
      const Vec3 centre = {0.0f, yc, 0.0f};
      const float t = sphere_t(ray, centre, radius);
      if (t < best.t) best = {t, normalize(ray.origin + t * ray.dir - centre)};
    }
    return best;
  }

  Shapes3DShape shape_;
  float s_;
  Vec3 bound_centre_;
  float bound_radius2_;
};

// Everything fixed for one image: camera frame, colours and the object.
class Renderer {
 public:
  explicit Renderer(const Shapes3DScene& scene)
      : object_(scene.shape, static_cast<float>(scene.scale)),
        floor_(hue_to_rgb(scene.floor_hue)),
        wall_(hue_to_rgb(scene.wall_hue)),
        object_colour_(hue_to_rgb(scene.object_hue)) {
    const float theta = static_cast<float>(scene.orientation_deg * (kPi / 180.0));
    const float s = std::sin(theta), c = std::cos(theta);
    eye_ = {kOrbitRadius * s, kCameraHeight, kOrbitRadius * c};
    forward_ = {-s, 0.0f, -c};
    right_ = {c, 0.0f, -s};
    spot_axis_ = normalize(kLampTarget - kLampPosition);
  }

  // The ray through image point (x, y), in pixel-index coordinates (pixel centres are integers).
  Ray camera_ray(float x, float y) const {
    const Vec3 up = {0.0f, 1.0f, 0.0f};
    const Vec3 dir =
        forward_ + ((x - kCentre) / kFocalPx) * right_ - ((y - kCentre) / kFocalPx) * up;
    return {eye_, normalize(dir)};
  }

  // Mean colour of the kSuper x kSuper rays through pixel (row, col); `centre` is the middle one.
  Vec3 supersample(int row, int col, Vec3 centre) const {
    Vec3 sum = centre;
    for (int i = 0; i < kSuper; ++i) {
      for (int j = 0; j < kSuper; ++j) {
        if (2 * i + 1 == kSuper && 2 * j + 1 == kSuper) continue;
        const float y = static_cast<float>(row) + (static_cast<float>(i) + 0.5f) / kSuper - 0.5f;
        const float x = static_cast<float>(col) + (static_cast<float>(j) + 0.5f) / kSuper - 0.5f;
        sum = sum + trace(camera_ray(x, y)).colour;
      }
    }
    return (1.0f / (kSuper * kSuper)) * sum;
  }

  // Colour, and an id of the surface patch that differs across every sharp edge of the image:
  // sky, each wall and the floor (lit or in shadow), each flat face of the object (lit by the
  // lamp or not).
  struct Sample {
    Vec3 colour;
    int surface;
  };

  Sample trace(const Ray& ray) const {
    const Hit room = room_hit(ray);
    const Hit obj = object_.intersect(ray);
    if (obj.t < room.t) {
      const Vec3 p = ray.origin + obj.t * ray.dir;
      const bool lamp_side = dot(obj.normal, kLampPosition - p) > 0.0f;
      return {shade(p, obj.normal, object_colour_, kObjectMaterial, /*lit=*/true),
              16 + 2 * obj.face + lamp_side};
    }
    const Vec3 p = ray.origin + room.t * ray.dir;
    if (room.face > 0 && p.y > kWallHeight) return {kSky, 0};
    const Vec3 albedo = room.face == 0 ? floor_ : wall_marks(room.face, p) * wall_;
    const bool lit = !in_shadow(p, room.normal);
    return {shade(p, room.normal, albedo, kRoomMaterial, lit), 1 + 2 * room.face + lit};
  }

 private:
  // The room is the inside of a box open at the top: the floor (face 0) and four walls (1-4).
  static Hit room_hit(const Ray& ray) {
    Hit best;
    auto consider = [&](float t, Vec3 n, int face) {
      if (t > kEpsilon && t < best.t) best = {t, n, face};
    };
    const Vec3& o = ray.origin;
    const Vec3& d = ray.dir;
    if (d.y < 0.0f) consider(-o.y / d.y, {0.0f, 1.0f, 0.0f}, 0);
    if (d.x > 0.0f) consider((kRoomHalf - o.x) / d.x, {-1.0f, 0.0f, 0.0f}, 1);
    if (d.x < 0.0f) consider((-kRoomHalf - o.x) / d.x, {1.0f, 0.0f, 0.0f}, 2);
    if (d.z > 0.0f) consider((kRoomHalf - o.z) / d.z, {0.0f, 0.0f, -1.0f}, 3);
    if (d.z < 0.0f) consider((-kRoomHalf - o.z) / d.z, {0.0f, 0.0f, 1.0f}, 4);
    return best;
  }

  bool in_shadow(Vec3 p, Vec3 normal) const {
    const Vec3 to_lamp = kLampPosition - p;
    const float dist = std::sqrt(dot(to_lamp, to_lamp));
    const Ray shadow_ray = {p + kEpsilon * normal, (1.0f / dist) * to_lamp};
    return object_.intersect(shadow_ray).t < dist;
  }

  Vec3 shade(Vec3 p, Vec3 n, Vec3 albedo, const Material& m, bool lit) const {
    const Vec3 to_lamp = normalize(kLampPosition - p);
    const float head = std::max(0.0f, -dot(n, forward_));
    const float lamp_cos = dot(n, to_lamp);
    const float spot = lit && lamp_cos > 0.0f ? spot_falloff(-dot(to_lamp, spot_axis_)) : 0.0f;
    const float k = m.ambient + m.headlight * head + m.lamp * lamp_cos * spot;
    const float specular = m.specular * spot;
    return {std::min(1.0f, albedo.x * k + specular), std::min(1.0f, albedo.y * k + specular),
            std::min(1.0f, albedo.z * k + specular)};
  }

  Object object_;
  Vec3 floor_, wall_, object_colour_;
  Vec3 eye_, forward_, right_, spot_axis_;
};

std::uint8_t to_byte(float v) {
  return static_cast<std::uint8_t>(v * 255.0f + 0.5f);
}

}  // namespace

// One ray through each pixel centre; pixels whose 3x3 neighbourhood sees more than one surface
// patch (an edge passes nearby) are supersampled. Elsewhere shading varies smoothly, so the centre
// ray is the pixel's mean: a third of the time of uniform supersampling, and images that differ
// from it by 0.01 levels on average.
void render_shapes3d(const Shapes3DScene& scene, std::uint8_t* chw) {
  const Renderer renderer(scene);
  constexpr int plane = kSize * kSize;
  std::vector<Renderer::Sample> centre(plane);
  for (int row = 0; row < kSize; ++row)
    for (int col = 0; col < kSize; ++col)
      centre[static_cast<std::size_t>(row * kSize + col)] =
          renderer.trace(renderer.camera_ray(static_cast<float>(col), static_cast<float>(row)));
  auto near_edge = [&](int row, int col) {
    const int surface = centre[static_cast<std::size_t>(row * kSize + col)].surface;
    for (int y = std::max(0, row - 1); y <= std::min(kSize - 1, row + 1); ++y)
      for (int x = std::max(0, col - 1); x <= std::min(kSize - 1, col + 1); ++x)
        if (centre[static_cast<std::size_t>(y * kSize + x)].surface != surface) return true;
    return false;
  };
  for (int row = 0; row < kSize; ++row) {
    for (int col = 0; col < kSize; ++col) {
      const int at = row * kSize + col;
      Vec3 rgb = centre[static_cast<std::size_t>(at)].colour;
      if (near_edge(row, col)) rgb = renderer.supersample(row, col, rgb);
      chw[at] = to_byte(rgb.x);
      chw[plane + at] = to_byte(rgb.y);
      chw[2 * plane + at] = to_byte(rgb.z);
    }
  }
}

}  // namespace vsae::data
