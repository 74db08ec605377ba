"""L7 trust UX: the trust centre, approval cards and posture banners."""
