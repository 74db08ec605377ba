// The avatar's vertex shader: one full-screen triangle from gl_VertexID (no vertex buffers).
// aether_qt/avatar/shader.py prepends the #version line (GL 3.3 core or GLES 3.0).
void main() {
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
