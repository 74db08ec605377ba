// The avatar's fragment shader: the character from signed-distance functions in face units.
// aether_qt/avatar/shader.py prepends the #version line (GL 3.3 core or GLES 3.0).
uniform vec3 uFace;      // centre x, y (pixels, bottom-left origin) and radius (pixels)
uniform vec3 uPrimary;
uniform vec3 uSecondary;
uniform vec3 uAccent;
uniform vec3 uBackground;
uniform vec3 uTint;
uniform int uShape;
uniform float uScale;
uniform float uTilt;
uniform vec2 uGaze;
uniform float uEyeOpen;
uniform float uMouth;
uniform float uSmile;
uniform float uGlow;
uniform float uDots;
uniform float uRing;
uniform float uOffline;
uniform float uUntrusted;
uniform float uTime;
out vec4 fragColor;

float px;  // one pixel in face units

float cover(float d) { return clamp(0.5 - d / px, 0.0, 1.0); }

float sdCircle(vec2 p, float r) { return length(p) - r; }

float sdRoundBox(vec2 p, vec2 b, float r) {
    vec2 q = abs(p) - b + r;
    return length(max(q, 0.0)) + min(max(q.x, q.y), 0.0) - r;
}

float sdSegment(vec2 p, vec2 a, vec2 b) {
    vec2 pa = p - a, ba = b - a;
    float h = clamp(dot(pa, ba) / dot(ba, ba), 0.0, 1.0);
    return length(pa - ba * h);
}

float sdEllipse(vec2 p, vec2 r) {
    float k0 = length(p / r);
    float k1 = length(p / (r * r));
    return k1 > 0.0 ? k0 * (k0 - 1.0) / k1 : -min(r.x, r.y);
}

// the convex hull of a circle (centre c, radius r) and a tip above it
float sdDrop(vec2 p, vec2 c, float r, vec2 tip) {
    p.x = abs(p.x);
    float len = tip.y - c.y;
    float k = r / len;
    vec2 u = vec2(sqrt(1.0 - k * k), k);  // outward normal at the tangent point
    vec2 tangent = c + r * u;
    vec2 s = normalize(tip - tangent);
    float h = dot(p - tangent, s);
    if (h <= 0.0) return length(p - c) - r;
    if (h < length(tip - tangent)) return dot(p - tangent, u);
    return length(p - tip);
}

float faceSd(vec2 q) {
    if (uShape == 1) return sdRoundBox(q, vec2(0.9375), 0.56);
    if (uShape == 2) return sdDrop(q, vec2(0.0, -0.26), 0.72, vec2(0.0, 0.97));
    return sdCircle(q, 0.97);
}

vec3 over(vec3 base, vec3 colour, float a) { return mix(base, colour, clamp(a, 0.0, 1.0)); }

vec3 drawEyes(vec3 col, vec2 q) {
    for (int i = 0; i < 2; i++) {
        float side = i == 0 ? -1.0 : 1.0;
        vec2 e = vec2(0.34 * side, 0.12) + uGaze;
        if (uEyeOpen < 0.22) {  // closed: a soft downward arc
            vec2 d = q - e;
            float y = -0.035 + 0.05 * (d.x / 0.11) * (d.x / 0.11);
            float line = abs(d.y - y) - 0.022;
            line = max(line, abs(d.x) - 0.11);
            col = over(col, uAccent, cover(line));
        } else {
            vec2 r = vec2(0.1, 0.135 * uEyeOpen);
            col = over(col, uAccent, cover(sdEllipse(q - e, r)));
            vec2 glint = e + vec2(0.035, 0.045 * uEyeOpen);
            col = over(col, mix(uAccent, vec3(1.0), 0.85), cover(sdCircle(q - glint, 0.028)));
        }
    }
    return col;
}

vec3 drawMouth(vec3 col, vec2 q) {
    vec2 m = q - vec2(0.0, -0.42);
    if (uMouth < 0.04) {
        float w = 0.22;
        float x = clamp(m.x, -w, w);
        float y = uSmile * 0.1 * ((x / w) * (x / w) - 1.0) + 0.03 * uSmile;
        float line = length(vec2(m.x - x, m.y - y)) - 0.03;
        return over(col, uAccent, cover(line));
    }
    vec2 r = vec2(0.12 + 0.08 * uMouth, 0.03 + 0.17 * uMouth);
    float mouth = sdEllipse(m, r);
    col = over(col, uAccent, cover(mouth));
    float tongue = max(sdCircle(m - vec2(0.0, -r.y), r.x * 0.75), mouth + 0.02);
    vec3 pink = mix(uAccent, vec3(0.93, 0.42, 0.45), 0.65);
    return over(col, pink, cover(tongue) * smoothstep(0.3, 0.5, uMouth));
}

vec3 drawBadges(vec3 col, vec2 p) {
    if (uOffline > 0.5) {
        vec2 b = p - vec2(-0.74, -0.74);
        col = over(col, vec3(1.0), cover(sdCircle(b, 0.27)));
        col = over(col, vec3(0.39, 0.42, 0.47), cover(sdCircle(b, 0.23)));
        float mark = abs(sdCircle(b, 0.12)) - 0.028;
        mark = min(mark, sdSegment(b, vec2(-0.09, 0.09), vec2(0.09, -0.09)) - 0.028);
        col = over(col, vec3(1.0), cover(mark));
    }
    if (uUntrusted > 0.5) {
        vec2 b = p - vec2(0.74, -0.74);
        col = over(col, vec3(1.0), cover(sdCircle(b, 0.27)));
        col = over(col, vec3(0.902, 0.318, 0.0), cover(sdCircle(b, 0.23)));
        float mark = min(sdSegment(b, vec2(0.0, 0.11), vec2(0.0, -0.02)) - 0.035,
                         sdCircle(b - vec2(0.0, -0.1), 0.037));
        col = over(col, vec3(1.0), cover(mark));
    }
    return col;
}

void main() {
    vec2 p = (gl_FragCoord.xy - uFace.xy) / uFace.z;
    px = 1.0 / uFace.z;
    // breathing scales and the tilt turns the head around the chin
    vec2 pivot = vec2(0.0, -0.95);
    float c = cos(uTilt), s = sin(uTilt);
    vec2 q = p - pivot;
    q = vec2(c * q.x + s * q.y, -s * q.x + c * q.y) / uScale + pivot;
    float d = faceSd(q);
    vec3 col = uBackground;
    float halo = uGlow * 0.75 * exp(-max(d, 0.0) * 5.0) * step(0.0, d);
    col = over(col, uTint, halo);
    if (uRing > 0.0) {
        float pulse = 0.8 + 0.2 * sin(uTime * 4.0);
        col = over(col, vec3(1.0, 0.702, 0.0), cover(abs(d - 0.13) - 0.045) * uRing * pulse);
    }
    if (uDots > 0.0) {
        for (int i = 0; i < 3; i++) {
            float fi = float(i);
            vec2 centre = vec2(0.8 + 0.15 * fi, 0.92 + 0.11 * fi);
            float wave = 0.6 + 0.4 * sin(uTime * 5.0 - fi * 1.2);
            col = over(col, uTint, cover(sdCircle(p - centre, 0.05 + 0.018 * fi)) * uDots * wave);
        }
    }
    col = over(col, uPrimary, cover(d));
    vec3 blush = mix(uPrimary, uSecondary, 0.3);
    float cheeks = min(sdCircle(q - vec2(-0.56, -0.2), 0.13), sdCircle(q - vec2(0.56, -0.2), 0.13));
    col = over(col, blush, smoothstep(0.06, -0.06, cheeks) * 0.8 * cover(d + 0.1));
    col = drawEyes(col, q);
    col = drawMouth(col, q);
    col = over(col, uSecondary, cover(abs(d * uFace.z + 1.25) * px - 1.25 * px));
    col = drawBadges(col, p);
    fragColor = vec4(col, 1.0);
}
