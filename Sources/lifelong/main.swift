print("lifelong")
